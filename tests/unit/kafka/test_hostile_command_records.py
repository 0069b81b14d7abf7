"""Records a decoder did not foresee: answered or dead-lettered, never an error that would stop
a command topic's partition for good (it would be read again after every restart)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from adapters.kafka.aiokafka_command_source import AiokafkaRecordSource
from adapters.kafka.commands import decode_command
from adapters.kafka.config import KafkaConfig
from adapters.kafka.offers import decode_offer_command
from application.ports.commands import Position, Received

AT = 1_773_489_600_000  # the record's own timestamp (ms)


def offer_record(**fields: object) -> bytes:
    document = {
        "command_id": str(uuid.uuid4()),
        "command_type": "SetStock",
        "account": "shop",
        "sku": "MUG-1",
        "available": 3,
        **fields,
    }
    return json.dumps(document).encode()


@pytest.mark.parametrize("command_type", [["SetStock"], {"a": 1}, 7, None])
def test_a_command_type_that_is_no_text_is_answered_invalid(command_type: object) -> None:
    received = decode_offer_command(
        offer_record(command_type=command_type), [], AT, Position(0, 3), "shop"
    )

    assert received.refused is not None
    assert received.refused.command_type is None
    assert received.refused.sku == "MUG-1"


@pytest.mark.parametrize("decode", [decode_offer_command, decode_command])
def test_a_ce_time_with_no_utc_time_falls_back_to_the_record_time(decode: object) -> None:
    headers = [("ce_time", b"0001-01-01T00:00:00+01:00")]  # valid ISO 8601, before UTC's year 1

    received = decode(offer_record(), headers, AT, Position(0, 3), "shop")  # type: ignore[operator]

    assert received.at == datetime.fromtimestamp(AT / 1000, UTC)


def test_a_decoder_that_fails_makes_the_record_unreadable_not_an_error() -> None:
    def failing(*args: object) -> Received[object]:
        raise RecursionError("a case nobody foresaw")

    config = KafkaConfig(bootstrap_servers="127.0.0.1:9", topic_orders="o", topic_dlq="d")
    source: AiokafkaRecordSource[object] = AiokafkaRecordSource(config, "c", "g", "shop", failing)

    received = source._read(b'{"x": 1}', [], AT, Position(2, 9))

    assert received.unreadable == "undecodable (RecursionError)"
    assert received.position == Position(2, 9)
    assert received.raw == '{"x": 1}'
