"""Money on Decimal: Allegro sends amounts as strings, and so do we.

An amount is bounded (docs/hostile-input.md): not negative (prices, totals and payments of
an order never are), below 10^12 (a thousand billion, far past any order), with at most 8
digits after the point. A 13-byte amount such as `1E+100000000` is otherwise a valid
Decimal that prints as a hundred million digits: every amount outside these bounds is
refused as an invalid value, and the order takes the poison path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidValue

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_KNOWN_CURRENCIES: set[str] = set()  # codes that passed the check: a set lookup after that
_KNOWN_LIMIT = 512  # ISO 4217 has fewer than 200 codes; past this, check every time
_PARSED: dict[tuple[str, str], Money] = {}  # see `Money.parse`
_PARSED_LIMIT = 4096
MAX_AMOUNT = Decimal(10) ** 12  # exclusive
MAX_FRACTION_DIGITS = 8
_MAX_AMOUNT_TEXT = 64  # characters: longer text is refused before it is parsed


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise InvalidValue(f"money amount must be a finite Decimal, got {_short(self.amount)}")
        _check_bounds(self.amount)
        if not isinstance(self.currency, str):
            raise InvalidValue(f"currency must be an ISO-4217 code, got {self.currency!r}")
        if self.currency in _KNOWN_CURRENCIES:
            return
        if not _CURRENCY.fullmatch(self.currency):
            raise InvalidValue(f"currency must be an ISO-4217 code, got {self.currency!r}")
        if len(_KNOWN_CURRENCIES) < _KNOWN_LIMIT:
            _KNOWN_CURRENCIES.add(self.currency)

    @classmethod
    def parse(cls, amount: str, currency: str) -> Money:
        """Parse Allegro's decimal string; `"70"` and `"70.00"` are both valid.

        A shop's prices repeat (an order holds about seven amounts): the same text gives
        the same (immutable) value, parsed once while it is among the last few thousand."""
        key = (amount, currency)
        try:
            known = _PARSED.get(key)
        except TypeError:  # unhashable, so not text: refused below
            known = None
        if known is not None:
            return known
        if isinstance(amount, str) and len(amount) > _MAX_AMOUNT_TEXT:
            raise InvalidValue(f"money amount is longer than {_MAX_AMOUNT_TEXT} characters")
        try:
            value = Decimal(amount)
        except (InvalidOperation, TypeError, ValueError) as exc:
            raise InvalidValue(f"money amount is not a decimal: {_short(amount)}") from exc
        money = cls(value, currency)
        if cls is Money and isinstance(amount, str):  # the currency was checked just above
            if len(_PARSED) >= _PARSED_LIMIT:
                _PARSED.clear()
            _PARSED[key] = money
        return money

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def _check_bounds(amount: Decimal) -> None:
    """Compares exponents before values: `1E+100000000` is refused without being expanded."""
    if amount.is_signed() and amount != 0:
        raise InvalidValue(f"money amount must not be negative, got {_short(amount)}")
    if amount.adjusted() >= 12:
        raise InvalidValue(f"money amount must be below {MAX_AMOUNT:.0f}, got {_short(amount)}")
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked by the caller
    # Checked on the exponent, not the value: `0E-999999999` is zero, and prints as a
    # billion zeros.
    if exponent < -MAX_FRACTION_DIGITS:
        raise InvalidValue(
            f"money amount has more than {MAX_FRACTION_DIGITS} digits after the point"
        )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
