"""Reading the offer-commands topic's records (untrusted bytes): a command, an `invalid`
answer that never echoes the value, a reject for the dead-letter topic, or another account's
command."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.kafka.commands import MAX_COMMAND_BYTES
from adapters.kafka.offers import decode_offer_command
from application.ports.commands import Position, Received
from domain.commands import CommandFailed, FailureReason
from domain.money import Money
from domain.offers import OfferCommand, SetPrice, SetStock

ACCOUNT = "shop-1"
AT = Position(1, 77)
COMMAND_ID = "5a3c2b1d-0000-4000-8000-0000000000a1"
SKU = "KUB-350-BIA"
CE_TIME = [("ce_time", b"2026-03-14T13:00:00+01:00")]
# A value no answer may repeat: whatever the sender put there is not ours to echo back.
HOSTILE = "EVIL<script>-marker"


def stock(**fields: Any) -> dict[str, Any]:
    return {
        "command_id": COMMAND_ID,
        "command_type": "SetStock",
        "account": ACCOUNT,
        "sku": SKU,
        "available": 7,
        **fields,
    }


def price(**fields: Any) -> dict[str, Any]:
    return {
        "command_id": COMMAND_ID,
        "command_type": "SetPrice",
        "account": ACCOUNT,
        "sku": SKU,
        "amount": "12.50",
        "currency": "PLN",
        **fields,
    }


def without(document: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != name}


def decode(
    value: bytes | None,
    headers: list[tuple[str, bytes]] = CE_TIME,
    timestamp_ms: int | None = 1_700_000_000_000,
) -> Received[OfferCommand]:
    return decode_offer_command(value, headers, timestamp_ms, AT, ACCOUNT)


def encoded(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_a_stock_command_is_read_with_its_time_and_position() -> None:
    received = decode(encoded(stock()))

    assert received.command == SetStock(uuid.UUID(COMMAND_ID), ACCOUNT, SKU, 7)
    assert received.at == datetime(2026, 3, 14, 12, tzinfo=UTC)
    assert received.position == AT
    assert (received.refused, received.unreadable, received.foreign) == (None, None, False)


@pytest.mark.parametrize("available", [0, 1, 2_147_483_647])
def test_every_stock_from_zero_to_int32_is_a_command(available: int) -> None:
    received = decode(encoded(stock(available=available)))

    assert isinstance(received.command, SetStock)
    assert received.command.available == available


def test_a_price_command_is_read_on_its_marketplace() -> None:
    received = decode(encoded(price(marketplace="allegro-cz", amount="349", currency="CZK")))

    assert received.command == SetPrice(
        uuid.UUID(COMMAND_ID), ACCOUNT, SKU, Money(Decimal("349"), "CZK"), "allegro-cz"
    )


def test_a_price_command_without_a_marketplace_is_for_the_base_one() -> None:
    received = decode(encoded(price(amount="0.01")))

    assert isinstance(received.command, SetPrice)
    assert received.command.marketplace is None
    assert received.command.price == Money(Decimal("0.01"), "PLN")


def test_fields_a_later_sender_adds_are_ignored() -> None:
    received = decode(encoded(stock(warehouse="WRO-1", note={"any": ["thing"]})))

    assert received.command == SetStock(uuid.UUID(COMMAND_ID), ACCOUNT, SKU, 7)


def test_without_ce_time_the_record_timestamp_is_the_time() -> None:
    received = decode(encoded(stock()), headers=[], timestamp_ms=1_700_000_000_000)

    assert received.at == datetime.fromtimestamp(1_700_000_000, UTC)


# --- not a command at all: unreadable (to the dead-letter topic as it came) ---------------

UNREADABLE: dict[str, tuple[bytes | None, str]] = {
    "no value": (None, "no value"),
    "not JSON": (b"{not json", "not JSON"),
    "not UTF-8": (b"\xff\xfe\x00", "not JSON"),
    "a list": (b"[1, 2]", "not a JSON object"),
    "a string": (b'"SetStock"', "not a JSON object"),
    "a number": (b"7", "not a JSON object"),
    "nested too deep": (b"[" * 30_000 + b"]" * 30_000, "not JSON"),
    "no command_id": (encoded(without(stock(), "command_id")), "no command_id"),
    "a numeric command_id": (encoded(stock(command_id=5)), "no command_id"),
    "a command_id that is no UUID": (encoded(stock(command_id=HOSTILE)), "no command_id"),
    "a huge command_id": (encoded(stock(command_id="a" * 10_000)), "no command_id"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_a_record_that_is_no_command_is_unreadable(case: str) -> None:
    value, why = UNREADABLE[case]

    received = decode(value)

    assert received.unreadable is not None
    assert why in received.unreadable
    assert (received.command, received.refused, received.foreign) == (None, None, False)


def test_a_record_over_64_kib_is_unreadable_and_its_raw_text_is_bounded() -> None:
    value = encoded(stock(padding="x" * MAX_COMMAND_BYTES))

    received = decode(value)

    assert received.unreadable == f"{len(value)} bytes, over the 65536-byte limit"
    assert len(received.raw) == MAX_COMMAND_BYTES


def test_a_record_of_exactly_64_kib_is_still_read() -> None:
    document = stock(padding="")
    document["padding"] = "x" * (MAX_COMMAND_BYTES - len(encoded(document)))
    value = encoded(document)
    assert len(value) == MAX_COMMAND_BYTES

    assert decode(value).command is not None


def test_the_raw_text_of_an_undecodable_record_is_kept_for_the_dead_letter() -> None:
    received = decode(b"\xff{")

    assert received.raw == "\ufffd{"


# --- a command that breaks its schema or its rules: answered `invalid` --------------------

REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "unknown command_type": (stock(command_type=HOSTILE), "command_type"),
    "an order command on the offer topic": (
        stock(command_type="SetFulfillmentStatus"),
        "command_type",
    ),
    "no command_type": (without(stock(), "command_type"), "command_type"),
    "a numeric command_type": (stock(command_type=1), "command_type"),
    "no sku": (without(stock(), "sku"), "sku"),
    "an empty sku": (stock(sku=""), "sku"),
    "a sku over 100 characters": (stock(sku=HOSTILE + "s" * 100), "sku"),
    "a sku with surrounding spaces": (stock(sku=f" {HOSTILE} "), "sku"),
    "a numeric sku": (stock(sku=12345), "sku"),
    "no account": (without(stock(), "account"), "account"),
    "a numeric account": (stock(account=17), "account"),
    "no available": (without(stock(), "available"), "available"),
    "available below 0": (stock(available=-987654), "available"),
    "available over int32": (stock(available=2_147_483_648), "available"),
    "available a bool": (stock(available=True), "available"),
    "available a float": (stock(available=7.0), "available"),
    "available a string": (stock(available="987654"), "available"),
    "available null": (stock(available=None), "available"),
    "no amount": (without(price(), "amount"), "amount"),
    "amount a number": (price(amount=12.5), "amount"),
    "amount not a decimal": (price(amount=HOSTILE), "amount"),
    "amount zero": (price(amount="0"), "amount"),
    "amount zero with decimals": (price(amount="0.00"), "amount"),
    "amount negative": (price(amount="-987654"), "amount"),
    "amount with 3 decimals": (price(amount="987654.999"), "amount"),
    "amount with an exponent": (price(amount="1E+100000000"), "amount"),
    "amount NaN": (price(amount="NaN"), "amount"),
    "amount Infinity": (price(amount="Infinity"), "amount"),
    "amount with spaces": (price(amount=" 987654 "), "amount"),
    "amount over 12 digits": (price(amount="9876543210987"), "amount"),
    "amount huge": (price(amount="9" * 5000), "amount"),
    "no currency": (without(price(), "currency"), "currency"),
    "currency lower case": (price(currency="pln"), "currency"),
    "currency of four letters": (price(currency="EVIL"), "currency"),
    "currency a number": (price(currency=985), "currency"),
    "marketplace with capitals": (price(marketplace="Allegro-PL"), "marketplace"),
    "marketplace empty": (price(marketplace=""), "marketplace"),
    "marketplace hostile": (price(marketplace=HOSTILE), "marketplace"),
    "marketplace a number": (price(marketplace=1), "marketplace"),
}
# What the answer of each case must not contain: the offending value itself.
ECHOES = (HOSTILE, "987654", "2147483648", "1E+100000000", "NaN", "Infinity", "EVIL", "9999")


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_broken_command_is_answered_invalid_saying_where_never_what(case: str) -> None:
    document, where = REFUSED[case]

    received = decode(encoded(document))

    failed = received.refused
    assert isinstance(failed, CommandFailed), received
    assert failed.reason is FailureReason.INVALID
    assert where in failed.message
    assert not [echo for echo in ECHOES if echo in failed.message], failed.message
    assert len(failed.message) <= 512
    assert (failed.command_id, failed.account) == (COMMAND_ID, ACCOUNT)
    assert failed.checkout_form_id is None
    assert failed.occurred_at == received.at
    assert (received.command, received.unreadable, received.foreign) == (None, None, False)


def test_an_invalid_command_keeps_its_sku_so_its_result_is_keyed_by_it() -> None:
    failed = decode(encoded(stock(available=-1))).refused

    assert isinstance(failed, CommandFailed)
    assert (failed.sku, failed.command_type) == (SKU, "SetStock")


@pytest.mark.parametrize("sku", ["", "s" * 101, 12345, None])
def test_an_invalid_command_without_a_usable_sku_has_none(sku: object) -> None:
    failed = decode(encoded(stock(sku=sku))).refused

    assert isinstance(failed, CommandFailed)
    assert failed.sku is None


def test_an_unknown_command_type_is_not_carried_into_the_answer() -> None:
    failed = decode(encoded(stock(command_type=HOSTILE))).refused

    assert isinstance(failed, CommandFailed)
    assert failed.command_type is None


def test_an_invalid_command_is_answered_under_the_canonical_command_id() -> None:
    spelled = "{" + COMMAND_ID.upper() + "}"

    failed = decode(encoded(stock(command_id=spelled, available=-1))).refused

    assert isinstance(failed, CommandFailed)
    assert failed.command_id == COMMAND_ID


def test_an_invalid_command_naming_no_account_is_answered_by_this_account() -> None:
    failed = decode(encoded(without(stock(available=-1), "account"))).refused

    assert isinstance(failed, CommandFailed)
    assert failed.account == ACCOUNT


# --- another account's ---------------------------------------------------------------------


def test_another_accounts_command_is_foreign() -> None:
    received = decode(encoded(stock(account="someone-else")))

    assert received.foreign
    assert (received.command, received.refused, received.unreadable) == (None, None, None)


def test_another_accounts_broken_command_is_theirs_to_answer() -> None:
    assert decode(encoded(stock(account="someone-else", available=-1))).foreign


# --- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document", [stock(), price(), stock(available=-1), {"command_id": COMMAND_ID}]
)
def test_the_same_record_is_read_the_same_every_time(document: dict[str, Any]) -> None:
    assert decode(encoded(document)) == decode(encoded(document))
