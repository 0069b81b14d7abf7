"""Writing `OfferChanged` events, offer dead letters and offer commands' results: the same
input gives the same key, value and headers; order commands' results keep their bytes."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from adapters.kafka.commands import CE_TYPE_COMMAND_RESULT, KafkaResultEncoder
from adapters.kafka.messages import MIN_MAX_MESSAGE_BYTES
from adapters.kafka.offers import CE_TYPE_OFFER_CHANGED, KafkaOfferEncoder
from application.ports.publisher import COMMAND_RESULTS, DEAD_LETTERS, OFFERS, DeadLetter
from domain.commands import CommandFailed, CommandSucceeded, FailureReason
from domain.money import Money
from domain.offers import MarketPrice, OfferChanged

ACCOUNT = "shop-1"
OFFER_ID = "17034458812"
EVENT_ID = uuid.UUID("0f1e2d3c-4b5a-5968-8776-a5b4c3d2e1f0")
COMMAND_ID = uuid.UUID("5a3c2b1d-0000-4000-8000-00000000000c")
AT = datetime(2026, 3, 14, tzinfo=UTC)


def make_offer_changed(**overrides: Any) -> OfferChanged:
    fields: dict[str, Any] = {
        "event_id": EVENT_ID,
        "occurred_at": datetime(2026, 3, 14, 12, 30, 5, 120000, tzinfo=UTC),
        "account": ACCOUNT,
        "offer_id": OFFER_ID,
        "sku": "KUB-350-BIA",
        "stock_available": 12,
        "prices": (
            MarketPrice("allegro-pl", Money(Decimal("59.50"), "PLN")),
            MarketPrice("allegro-cz", Money(Decimal("349"), "CZK")),
        ),
        "publication_status": "ACTIVE",
        "ended_by": None,
    }
    return OfferChanged(**{**fields, **overrides})


def test_an_offer_change_is_keyed_by_offer_id_on_the_offers_channel() -> None:
    (message,) = KafkaOfferEncoder().encode_offers([make_offer_changed()])

    assert message.channel == OFFERS
    assert message.key == OFFER_ID.encode()
    assert dict(message.headers) == {
        "ce_specversion": b"1.0",
        "ce_id": str(EVENT_ID).encode(),
        "ce_source": b"allegro/shop-1",
        "ce_type": CE_TYPE_OFFER_CHANGED.encode(),
        "ce_subject": OFFER_ID.encode(),
        "ce_time": b"2026-03-14T12:30:05.120000Z",
        "content-type": b"application/json",
    }


def test_an_offer_change_carries_every_field_money_as_decimal_strings() -> None:
    (message,) = KafkaOfferEncoder().encode_offers([make_offer_changed()])

    assert message.value == (
        b'{"event_id":"0f1e2d3c-4b5a-5968-8776-a5b4c3d2e1f0","event_type":"OfferChanged",'
        b'"occurred_at":"2026-03-14T12:30:05.120000Z","account":"shop-1",'
        b'"offer_id":"17034458812","sku":"KUB-350-BIA","stock_available":12,'
        b'"prices":[{"marketplace":"allegro-pl","amount":"59.50","currency":"PLN"},'
        b'{"marketplace":"allegro-cz","amount":"349","currency":"CZK"}],'
        b'"publication_status":"ACTIVE","ended_by":null}'
    )


def test_an_ended_offer_without_sku_or_stock_says_so_with_nulls() -> None:
    event = make_offer_changed(
        sku=None, stock_available=None, prices=(), publication_status="ENDED", ended_by="USER"
    )

    value = json.loads(KafkaOfferEncoder().encode_offers([event])[0].value)

    assert (value["sku"], value["stock_available"], value["prices"]) == (None, None, [])
    assert (value["publication_status"], value["ended_by"]) == ("ENDED", "USER")


def test_the_same_events_give_the_same_bytes_every_time() -> None:
    events = [make_offer_changed(), make_offer_changed(offer_id="17034458813", stock_available=0)]
    letters = [dead_letter()]

    first = KafkaOfferEncoder().encode_offers(events, letters)
    again = KafkaOfferEncoder().encode_offers(list(events), list(letters))

    assert first == again
    assert [m.channel for m in first] == [OFFERS, OFFERS, DEAD_LETTERS]


def test_a_time_in_another_offset_is_written_in_utc() -> None:
    warsaw = timezone(timedelta(hours=1))
    event = make_offer_changed(occurred_at=datetime(2026, 3, 14, 13, 30, 5, tzinfo=warsaw))

    (message,) = KafkaOfferEncoder().encode_offers([event])

    assert dict(message.headers)["ce_time"] == b"2026-03-14T12:30:05Z"


def dead_letter(**overrides: Any) -> DeadLetter:
    letter = DeadLetter(
        account=ACCOUNT,
        checkout_form_id=f"offer-{OFFER_ID}",
        allegro_event_id="MTEzMjQzODU3NjkzNjA3NTE4MjYzMjQ5MA",
        raw_payload='{"id": "17034458812", "stock": "lots"}',
        error="stock.available is not an integer",
        attempts=1,
        failed_at=AT,
    )
    return dataclasses.replace(letter, **overrides)


def test_an_unreadable_offer_goes_to_the_dead_letter_topic_under_its_key() -> None:
    (message,) = KafkaOfferEncoder().encode_offers([], [dead_letter()])

    assert message.channel == DEAD_LETTERS
    assert message.key == b"offer-17034458812"
    value = json.loads(message.value)
    assert value["raw_payload"] == '{"id": "17034458812", "stock": "lots"}'
    assert value["allegro_event_id"] == "MTEzMjQzODU3NjkzNjA3NTE4MjYzMjQ5MA"


def test_a_dead_letter_over_the_limit_is_cut_to_fit() -> None:
    letter = dead_letter(raw_payload="x" * (2 * MIN_MAX_MESSAGE_BYTES))

    (message,) = KafkaOfferEncoder(MIN_MAX_MESSAGE_BYTES).encode_offers([], [letter])

    assert len(message.value) < MIN_MAX_MESSAGE_BYTES
    assert json.loads(message.value)["truncated"] is True


def test_an_event_over_the_maximum_message_size_becomes_a_dead_letter_stub() -> None:
    prices = tuple(
        MarketPrice(f"m-{n}", Money(Decimal("1.00"), "PLN")) for n in range(MIN_MAX_MESSAGE_BYTES)
    )
    big, small = make_offer_changed(prices=prices), make_offer_changed(offer_id="1")

    stub, fine = KafkaOfferEncoder(MIN_MAX_MESSAGE_BYTES).encode_offers([big, small])

    assert stub.channel == DEAD_LETTERS
    assert stub.key == OFFER_ID.encode()
    assert len(stub.value) < MIN_MAX_MESSAGE_BYTES
    assert "over the maximum message size" in json.loads(stub.value)["error"]
    assert fine.channel == OFFERS  # one oversized offer does not hold up the others


# --- results of offer commands, and of order commands (unchanged) ---------------------------


def test_an_offer_commands_result_is_keyed_by_its_sku_and_carries_it() -> None:
    result = CommandSucceeded(COMMAND_ID, "SetStock", ACCOUNT, None, AT, sku="KUB-350-BIA")

    message = KafkaResultEncoder().encode_result(result)

    assert message.channel == COMMAND_RESULTS
    assert message.key == b"KUB-350-BIA"
    assert dict(message.headers)["ce_subject"] == b"KUB-350-BIA"
    assert dict(message.headers)["ce_type"] == CE_TYPE_COMMAND_RESULT.encode()
    value = json.loads(message.value)
    assert (value["sku"], value["checkout_form_id"]) == ("KUB-350-BIA", None)
    assert message == KafkaResultEncoder().encode_result(result)


def test_a_failed_offer_command_carries_allegros_words_and_its_sku() -> None:
    failed = CommandFailed(
        COMMAND_ID,
        "SetPrice",
        ACCOUNT,
        None,
        AT,
        FailureReason.REJECTED,
        "The offer is not active",
        code="OFFER_NOT_ACTIVE",
        sku="KUB-350-BIA",
    )

    message = KafkaResultEncoder().encode_result(failed)

    value = json.loads(message.value)
    assert message.key == b"KUB-350-BIA"
    assert (value["reason"], value["code"], value["sku"]) == (
        "rejected",
        "OFFER_NOT_ACTIVE",
        "KUB-350-BIA",
    )


def test_an_invalid_offer_command_without_a_sku_is_keyed_by_its_command_id() -> None:
    failed = CommandFailed(
        str(COMMAND_ID), "SetStock", ACCOUNT, None, AT, FailureReason.INVALID, "sku: missing"
    )

    message = KafkaResultEncoder().encode_result(failed)

    assert message.key == str(COMMAND_ID).encode()
    assert "sku" not in json.loads(message.value)


def test_an_order_commands_result_has_exactly_the_bytes_it_had_before_sku() -> None:
    result = CommandSucceeded(
        COMMAND_ID, "AddShipment", ACCOUNT, "15d9e2a0-ea25-11f1-8f11-02fc00000001", AT, "s1"
    )

    message = KafkaResultEncoder().encode_result(result)

    assert message.key == b"15d9e2a0-ea25-11f1-8f11-02fc00000001"
    assert message.value == (
        b'{"result_id":"d4cabb10-c09e-5a6a-90d3-1339872e9c0d","result_type":"CommandSucceeded",'
        b'"command_id":"5a3c2b1d-0000-4000-8000-00000000000c","command_type":"AddShipment",'
        b'"account":"shop-1","checkout_form_id":"15d9e2a0-ea25-11f1-8f11-02fc00000001",'
        b'"occurred_at":"2026-03-14T00:00:00Z","shipment_id":"s1","reason":null,"code":null,'
        b'"message":null,"current_revision":null,"current_status":null}'
    )


def test_an_invalid_order_commands_result_has_exactly_the_bytes_it_had_before_sku() -> None:
    failed = CommandFailed(
        str(COMMAND_ID), None, ACCOUNT, None, AT, FailureReason.INVALID, "command_type: unknown"
    )

    message = KafkaResultEncoder().encode_result(failed)

    assert message.key == str(COMMAND_ID).encode()
    assert message.value == (
        b'{"result_id":"d4cabb10-c09e-5a6a-90d3-1339872e9c0d","result_type":"CommandFailed",'
        b'"command_id":"5a3c2b1d-0000-4000-8000-00000000000c","command_type":null,'
        b'"account":"shop-1","checkout_form_id":null,"occurred_at":"2026-03-14T00:00:00Z",'
        b'"shipment_id":null,"reason":"invalid","code":null,"message":"command_type: unknown",'
        b'"current_revision":null,"current_status":null}'
    )
