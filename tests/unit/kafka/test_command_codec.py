"""Reading the command topic's records (untrusted bytes) and writing results (deterministic)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from adapters.kafka.commands import (
    CE_TYPE_COMMAND_RESULT,
    MAX_COMMAND_BYTES,
    KafkaResultEncoder,
    decode_command,
)
from application.ports.commands import Position
from application.ports.publisher import COMMAND_RESULTS, DEAD_LETTERS, DeadLetter
from domain.commands import (
    AddShipment,
    CommandFailed,
    CommandSucceeded,
    FailureReason,
    SetFulfillmentStatus,
)

ACCOUNT = "shop-1"
AT = Position(2, 41)
COMMAND_ID = "5a3c2b1d-0000-4000-8000-00000000000c"
FORM = "15d9e2a0-ea25-11f1-8f11-02fc00000001"
CE_TIME = [("ce_time", b"2026-03-14T12:00:00Z")]


def record(**fields: object) -> bytes:
    document = {
        "command_id": COMMAND_ID,
        "command_type": "SetFulfillmentStatus",
        "account": ACCOUNT,
        "checkout_form_id": FORM,
        "status": "SENT",
        **fields,
    }
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


def decode(value: bytes | None, headers=CE_TIME, timestamp_ms: int | None = 1_700_000_000_000):
    return decode_command(value, headers, timestamp_ms, AT, ACCOUNT)


def test_a_status_command_is_read_with_its_time() -> None:
    received = decode(record(expected_revision="r9"))

    assert received.command == SetFulfillmentStatus(
        uuid.UUID(COMMAND_ID), ACCOUNT, FORM, "SENT", "r9"
    )
    assert received.at == datetime(2026, 3, 14, 12, tzinfo=UTC)
    assert received.position == AT


def test_a_shipment_command_is_read() -> None:
    value = record(
        command_type="AddShipment",
        status=None,
        carrier_id="OTHER",
        carrier_name="Kurier Janek",
        waybill="JN000123",
        line_item_ids=["li-1"],
    )

    received = decode(value)

    assert received.command == AddShipment(
        uuid.UUID(COMMAND_ID), ACCOUNT, FORM, "OTHER", "JN000123", "Kurier Janek", ("li-1",)
    )


def test_without_ce_time_the_records_own_timestamp_is_the_commands_time() -> None:
    received = decode(record(), headers=[], timestamp_ms=1_773_489_600_000)

    assert received.at == datetime(2026, 3, 14, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (None, "no value"),
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"command_type": "AddShipment"}', "no command_id"),
        (json.dumps({"command_id": "42"}).encode(), "no command_id"),
        (b"[" * 100_000 + b"]" * 100_000, "bytes, over"),
        (b'{"command_id": "' + b"a" * MAX_COMMAND_BYTES + b'"}', "bytes, over"),
    ],
)
def test_a_record_that_is_no_command_is_unreadable(value: bytes | None, why: str) -> None:
    received = decode(value)

    assert received.command is None
    assert received.refused is None
    assert received.unreadable is not None
    assert why in received.unreadable


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"command_type": "Teleport"}, "command_type"),
        ({"status": "RETURNED"}, "not one a seller may set"),
        ({"status": 7}, "status"),
        ({"checkout_form_id": ""}, "checkout_form_id"),
        ({"command_type": "AddShipment", "carrier_id": "DPD", "waybill": "x" * 65}, "waybill"),
        ({"command_type": "AddShipment", "carrier_id": "OTHER", "waybill": "A1"}, "carrier_name"),
    ],
)
def test_a_command_breaking_its_schema_is_answered_invalid(fields: dict, where: str) -> None:
    received = decode(record(**fields))

    assert isinstance(received.refused, CommandFailed)
    assert received.refused.reason is FailureReason.INVALID
    assert where in received.refused.message
    assert received.refused.command_id == COMMAND_ID


def test_another_accounts_command_is_foreign() -> None:
    assert decode(record(account="someone-else")).foreign


def test_a_result_is_encoded_the_same_every_time() -> None:
    result = CommandSucceeded(
        uuid.UUID(COMMAND_ID), "AddShipment", ACCOUNT, FORM, datetime(2026, 3, 14, tzinfo=UTC), "s1"
    )
    encoder = KafkaResultEncoder()

    first, again = encoder.encode_result(result), encoder.encode_result(result)

    assert first == again
    assert first.channel == COMMAND_RESULTS
    assert first.key == FORM.encode()
    headers = dict(first.headers)
    assert headers["ce_type"] == CE_TYPE_COMMAND_RESULT.encode()
    assert headers["ce_id"] == str(result.result_id).encode()
    assert json.loads(first.value) == {
        "result_id": str(result.result_id),
        "result_type": "CommandSucceeded",
        "command_id": COMMAND_ID,
        "command_type": "AddShipment",
        "account": ACCOUNT,
        "checkout_form_id": FORM,
        "occurred_at": "2026-03-14T00:00:00Z",
        "shipment_id": "s1",
        "reason": None,
        "code": None,
        "message": None,
        "current_revision": None,
        "current_status": None,
    }


def test_a_failure_says_why() -> None:
    failed = CommandFailed(
        COMMAND_ID,
        "SetFulfillmentStatus",
        ACCOUNT,
        FORM,
        datetime(2026, 3, 14, tzinfo=UTC),
        FailureReason.CONFLICT,
        "the order changed",
        current_revision="r2",
        current_status="PROCESSING",
    )

    value = json.loads(KafkaResultEncoder().encode_result(failed).value)

    assert (value["result_type"], value["reason"]) == ("CommandFailed", "conflict")
    assert (value["current_revision"], value["current_status"]) == ("r2", "PROCESSING")


def test_a_reject_goes_to_the_dead_letter_topic_with_its_raw_value() -> None:
    letter = DeadLetter(ACCOUNT, "command-2-41", None, "{not json", "not a command", 1, AT_TIME)

    message = KafkaResultEncoder().encode_reject(letter)

    assert message.channel == DEAD_LETTERS
    assert json.loads(message.value)["raw_payload"] == "{not json"


AT_TIME = datetime(2026, 3, 14, tzinfo=UTC)


def test_an_invalid_command_naming_no_account_is_answered_by_this_account() -> None:
    received = decode(record(account=None, status="RETURNED"))

    assert isinstance(received.refused, CommandFailed)
    assert received.refused.account == ACCOUNT  # so its ce_source names an account


def test_an_invalid_command_is_answered_under_the_canonical_command_id() -> None:
    spelled = "{" + COMMAND_ID.upper() + "}"  # the same UUID, another spelling

    received = decode(record(command_id=spelled, status="RETURNED"))

    assert isinstance(received.refused, CommandFailed)
    assert received.refused.command_id == COMMAND_ID  # as a valid command's result says it
