"""The maximum message size: an event over it is encoded as a dead-letter stub that fits,
deterministically, and a dead letter over it is cut to fit."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from adapters.kafka.aiokafka_event_publisher import AiokafkaEventPublisher
from adapters.kafka.config import KafkaConfig
from adapters.kafka.messages import (
    MIN_MAX_MESSAGE_BYTES,
    DeadLetterMessage,
    KafkaRecord,
    encode_dead_letter,
    encode_event,
    quarantine_record,
    record_size,
)
from application.ports.publisher import DEAD_LETTERS, ORDERS, OutboundMessage
from tests.support.builders import (
    make_dead_letter,
    make_order_imported,
    make_order_status_changed,
    make_order_with_line_items,
)

BIG_ORDER_ID = "big-order"


def publisher(max_message_bytes: int = MIN_MAX_MESSAGE_BYTES) -> AiokafkaEventPublisher:
    """Only `encode` is used: it needs no broker."""
    return AiokafkaEventPublisher(KafkaConfig("k:9092", max_message_bytes=max_message_bytes))


def as_record(message: OutboundMessage) -> KafkaRecord:
    return KafkaRecord(message.key, message.value, list(message.headers))


def value_of(message: OutboundMessage | KafkaRecord) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(message.value)
    return value


def test_record_size_is_never_below_aiokafkas_own_estimate() -> None:
    records = [
        encode_event(make_order_imported()),
        encode_event(make_order_with_line_items(200)),
        encode_dead_letter(make_dead_letter()),
        KafkaRecord(b"k", b"", []),
    ]

    for record in records:
        estimate = DefaultRecordBatchBuilder.estimate_size_in_bytes(
            record.key, record.value, list(record.headers)
        )
        assert estimate <= record_size(record) <= estimate + 100


def test_an_event_over_the_limit_becomes_a_dead_letter_stub_that_fits() -> None:
    big = make_order_with_line_items(500, external_id=BIG_ORDER_ID)
    encoded = encode_event(big)

    [message] = publisher().encode([big])

    assert (message.channel, message.key) == (DEAD_LETTERS, BIG_ORDER_ID.encode())
    assert record_size(as_record(message)) <= MIN_MAX_MESSAGE_BYTES
    stub = value_of(message)
    assert stub["event_id"] == str(big.event_id)
    assert stub["event_type"] == "OrderImported"
    assert (stub["checkout_form_id"], stub["account"]) == (BIG_ORDER_ID, "default")
    assert (stub["allegro_event_id"], stub["attempts"]) == (None, 1)
    assert stub["failed_at"] == "2026-03-14T09:15:21.330000Z"  # when the event occurred
    assert stub["truncated"] is True
    assert encoded.value.startswith(stub["raw_payload"].encode())
    assert len(stub["raw_payload"]) > MIN_MAX_MESSAGE_BYTES // 2  # as much as fits, roughly
    assert stub["raw_payload_bytes"] == len(encoded.value)
    assert stub["raw_payload_sha256"] == hashlib.sha256(encoded.value).hexdigest()
    assert f"record of {record_size(encoded)} bytes" in stub["error"]
    assert f"max_message_bytes={MIN_MAX_MESSAGE_BYTES}" in stub["error"]
    headers = dict(message.headers)
    assert headers["ce_type"] == b"openoms.order.dead_lettered.v1"
    assert headers["ce_subject"] == BIG_ORDER_ID.encode()
    assert DeadLetterMessage.model_validate_json(message.value).model_dump_json().encode() == (
        message.value
    )


def test_the_other_events_of_the_batch_are_encoded_as_usual() -> None:
    small, changed = make_order_imported(), make_order_status_changed()
    big = make_order_with_line_items(500, external_id=BIG_ORDER_ID)

    messages = publisher().encode([small, big, changed])

    assert [m.channel for m in messages] == [ORDERS, DEAD_LETTERS, ORDERS]
    for message, event in ((messages[0], small), (messages[2], changed)):
        assert as_record(message) == encode_event(event)


def test_the_stub_of_an_event_is_byte_identical_on_every_encoding() -> None:
    first = publisher().encode([make_order_with_line_items(500)])
    second = publisher().encode([make_order_with_line_items(500)])

    assert first == second


def test_a_record_exactly_at_the_limit_is_published_one_byte_more_is_not() -> None:
    event = make_order_with_line_items(100)
    size = record_size(encode_event(event))

    assert [m.channel for m in publisher(size).encode([event])] == [ORDERS]
    assert [m.channel for m in publisher(size - 1).encode([event])] == [DEAD_LETTERS]


def test_a_dead_letter_over_the_limit_is_cut_to_fit_and_keeps_its_context() -> None:
    payload = json.dumps(
        {"id": "x", "lineItems": [{"id": n, "name": '"quoted"'} for n in range(3000)]}
    )
    letter = make_dead_letter(raw_payload=payload)

    [message] = publisher().encode((), [letter])

    assert record_size(as_record(message)) <= MIN_MAX_MESSAGE_BYTES
    value = value_of(message)
    assert value["truncated"] is True
    assert payload.startswith(value["raw_payload"])
    assert (value["raw_payload_bytes"], value["raw_payload_sha256"]) == (
        len(payload.encode()),
        hashlib.sha256(payload.encode()).hexdigest(),
    )
    assert (value["allegro_event_id"], value["attempts"], value["error"]) == (
        letter.allegro_event_id,
        letter.attempts,
        letter.error,
    )
    assert (value["event_id"], value["event_type"]) == (None, None)
    # the same input keeps the same id, cut or not: a consumer deduplicates on it
    assert dict(message.headers)["ce_id"] == dict(encode_dead_letter(letter).headers)["ce_id"]


def test_a_dead_letter_under_the_limit_is_whole() -> None:
    letter = make_dead_letter()

    [message] = publisher().encode((), [letter])

    assert as_record(message) == encode_dead_letter(letter)
    assert value_of(message)["truncated"] is False
    assert value_of(message)["raw_payload"] == letter.raw_payload


def test_a_stub_fits_even_with_absurd_identifiers_that_json_must_escape() -> None:
    hostile = "\x01" * 5000  # 6 bytes each once JSON-escaped
    letter = make_dead_letter(
        account=hostile, checkout_form_id=hostile, allegro_event_id=hostile, error=hostile
    )

    [message] = publisher().encode((), [letter])

    assert record_size(as_record(message)) <= MIN_MAX_MESSAGE_BYTES
    assert value_of(message)["truncated"] is True


def test_a_stub_made_from_foreign_headers_still_fits_and_never_raises() -> None:
    record = KafkaRecord(b"form", b"\xff" * 50_000, [("ce_time", b"yesterday"), ("ce_id", b"?")])

    stub = quarantine_record(record, "refused", MIN_MAX_MESSAGE_BYTES)

    assert record_size(stub) <= MIN_MAX_MESSAGE_BYTES
    value = value_of(stub)
    assert (value["failed_at"], value["event_id"], value["event_type"]) == (
        "1970-01-01T00:00:00Z",
        None,
        None,
    )
    assert value["raw_payload_sha256"] == hashlib.sha256(record.value).hexdigest()


@pytest.mark.parametrize("limit", [MIN_MAX_MESSAGE_BYTES, 100_000, 1_048_576])
def test_the_stub_is_as_large_as_the_limit_allows(limit: int) -> None:
    big = make_order_with_line_items(5000)

    [message] = publisher(limit).encode([big])

    assert limit - 16 <= record_size(as_record(message)) <= limit
