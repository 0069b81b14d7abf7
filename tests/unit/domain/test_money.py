"""Money: exact decimals and ISO 4217 codes, checked on every construction."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import money
from domain.errors import InvalidValue
from domain.money import Money


@pytest.mark.parametrize("currency", ["PLN", "CZK", "EUR", "HUF"])
def test_a_valid_code_is_accepted_every_time(currency: str) -> None:
    first = Money.parse("70.00", currency)
    again = Money.parse("1", currency)  # the second time takes the known-codes shortcut

    assert (first.amount, again.amount) == (Decimal("70.00"), Decimal("1"))
    assert first.currency == again.currency == currency


@pytest.mark.parametrize("currency", ["pln", "PLN\n", "ZŁ", "PLNX", "", 985, None, ["PLN"]])
def test_an_invalid_code_is_refused_even_after_valid_ones(currency: object) -> None:
    Money.parse("1", "PLN")

    with pytest.raises(InvalidValue, match="ISO-4217"):
        Money(Decimal("1"), currency)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", ["a lot", "NaN", "Infinity", "", None])
def test_an_amount_that_is_not_a_finite_decimal_is_refused(amount: object) -> None:
    with pytest.raises(InvalidValue):
        Money.parse(amount, "PLN")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", ["a lot", "NaN", ["70"], {"amount": "70"}])
def test_a_bad_amount_is_refused_every_time_it_comes(amount: object) -> None:
    for _ in range(2):  # parsed amounts are remembered: a refused one must not be
        with pytest.raises(InvalidValue):
            Money.parse(amount, "PLN")  # type: ignore[arg-type]
    assert Money.parse("70", "PLN").amount == Decimal("70")


def test_the_same_text_gives_the_same_value_and_different_texts_stay_apart() -> None:
    assert Money.parse("70.00", "PLN") == Money.parse("70.00", "PLN")
    assert str(Money.parse("70", "PLN")) == "70 PLN"
    assert str(Money.parse("70.00", "PLN")) == "70.00 PLN"  # the scale is kept
    assert Money.parse("70.00", "EUR").currency == "EUR"


def test_remembered_amounts_are_bounded() -> None:
    for n in range(money._PARSED_LIMIT + 10):
        Money.parse(f"{n}.99", "PLN")

    assert len(money._PARSED) <= money._PARSED_LIMIT
    assert Money.parse("3.99", "PLN").amount == Decimal("3.99")


def test_an_unhashable_currency_is_refused_as_a_currency() -> None:
    with pytest.raises(InvalidValue, match="ISO-4217"):
        Money.parse("1", ["PLN"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        ("1E+100000000", "below 1000000000000"),  # 13 bytes that print as 10^8 digits
        ("1000000000000", "below 1000000000000"),
        ("-0.01", "negative"),
        ("0.000000001", "8 digits after the point"),
        ("1e-100000000", "8 digits after the point"),
        ("0E-999999999999999999", "8 digits after the point"),  # zero, but prints forever
        ("1.100000000", "8 digits after the point"),
        ("1" * 65, "longer than 64"),
        ("1234567890123456789012345.1234567890", "below 1000000000000"),
    ],
)
def test_an_absurd_amount_is_an_invalid_value(amount: str, why: str) -> None:
    with pytest.raises(InvalidValue, match=why):
        Money.parse(amount, "PLN")


@pytest.mark.parametrize(
    "amount", ["0", "0.00", "999999999999.99", "0.12345678", "1.10000000", "0E+5"]
)
def test_amounts_inside_the_bounds_are_kept_exactly(amount: str) -> None:
    assert str(Money.parse(amount, "PLN").amount) == amount
