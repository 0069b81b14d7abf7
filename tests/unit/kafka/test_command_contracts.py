"""The command topics' contract: the published schemas of the consumed commands and the produced
results, and their place in the AsyncAPI document (contracts/COMPATIBILITY.md)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.kafka.commands import KafkaResultEncoder, decode_command
from adapters.kafka.config import KafkaConfig
from application.ports.commands import Position, ReceivedCommand
from domain.commands import (
    SETTABLE_FULFILLMENT,
    CommandFailed,
    CommandResult,
    CommandSucceeded,
    FailureReason,
)
from tests.unit.kafka.test_contracts_drift import schema, validate
from tools import contracts

ACCOUNT = "shop-1"
FORM = "15d9e2a0-ea25-11f1-8f11-02fc00000001"
COMMAND_ID = uuid.UUID("5a3c2b1d-0000-4000-8000-00000000000c")
AT = datetime(2026, 3, 14, 12, 0, 7, 250000, tzinfo=UTC)
CE_TIME = [("ce_time", b"2026-03-14T12:00:07.25Z")]

# What a sender writes, field by field (not built by the code under test).
COMMANDS: dict[str, tuple[str, dict[str, Any]]] = {
    "status, no lock": (
        contracts.SET_FULFILLMENT_STATUS_SCHEMA,
        {
            "command_id": str(COMMAND_ID),
            "command_type": "SetFulfillmentStatus",
            "account": ACCOUNT,
            "checkout_form_id": FORM,
            "status": "PROCESSING",
        },
    ),
    "status with a lock": (
        contracts.SET_FULFILLMENT_STATUS_SCHEMA,
        {
            "command_id": str(COMMAND_ID),
            "command_type": "SetFulfillmentStatus",
            "account": ACCOUNT,
            "checkout_form_id": FORM,
            "status": "SENT",
            "expected_revision": "9d4b2e07",
        },
    ),
    "shipment, every line": (
        contracts.ADD_SHIPMENT_SCHEMA,
        {
            "command_id": str(COMMAND_ID),
            "command_type": "AddShipment",
            "account": ACCOUNT,
            "checkout_form_id": FORM,
            "carrier_id": "DPD",
            "waybill": "0000123456789U",
        },
    ),
    "shipment, other carrier, some lines": (
        contracts.ADD_SHIPMENT_SCHEMA,
        {
            "command_id": str(COMMAND_ID),
            "command_type": "AddShipment",
            "account": ACCOUNT,
            "checkout_form_id": FORM,
            "carrier_id": "OTHER",
            "carrier_name": "Kurier Janek",
            "waybill": "JN-000123",
            "line_item_ids": ["62ae7d4a-ea25-11f1-9d3a-02fc00000003"],
            "expected_revision": None,  # unknown to AddShipment: ignored
        },
    ),
}


def decode(document: dict[str, Any], headers: list[tuple[str, bytes]] = CE_TIME) -> ReceivedCommand:
    value = json.dumps(document).encode()
    return decode_command(value, headers, 1_700_000_000_000, Position(0, 7), ACCOUNT)


@pytest.mark.parametrize("case", list(COMMANDS))
def test_a_command_as_a_sender_writes_it_validates_and_is_read(case: str) -> None:
    file_name, document = COMMANDS[case]

    assert validate(document, schema(file_name)) == []
    assert decode(document).command is not None


@pytest.mark.parametrize("case", list(COMMANDS))
def test_a_command_with_a_field_added_later_still_validates_and_is_read(case: str) -> None:
    """The consumed schemas are open like the published ones: a newer OpenOMS may send more
    within v1, and the service ignores what it does not know."""
    file_name, document = COMMANDS[case]
    document = {**document, "priority": {"any": ["shape"]}}

    assert validate(document, schema(file_name)) == []
    assert decode(document).command is not None


BROKEN: dict[str, tuple[str, str, Any]] = {
    # case: (the schema's file, field, value; None: field removed)
    "no command_type": (contracts.SET_FULFILLMENT_STATUS_SCHEMA, "command_type", None),
    "other command_type": (contracts.ADD_SHIPMENT_SCHEMA, "command_type", "SetFulfillmentStatus"),
    "no checkout form": (contracts.SET_FULFILLMENT_STATUS_SCHEMA, "checkout_form_id", None),
    "status a number": (contracts.SET_FULFILLMENT_STATUS_SCHEMA, "status", 3),
    "empty lock": (contracts.SET_FULFILLMENT_STATUS_SCHEMA, "expected_revision", ""),
    "no waybill": (contracts.ADD_SHIPMENT_SCHEMA, "waybill", None),
    "waybill too long": (contracts.ADD_SHIPMENT_SCHEMA, "waybill", "W" * 65),
    "carrier name too long": (contracts.ADD_SHIPMENT_SCHEMA, "carrier_name", "C" * 31),
    "line items not a list": (contracts.ADD_SHIPMENT_SCHEMA, "line_item_ids", "li-1"),
    "no account": (contracts.ADD_SHIPMENT_SCHEMA, "account", None),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_the_command_schemas_reject_what_the_service_answers_as_invalid(case: str) -> None:
    file_name, field, value = BROKEN[case]
    base = (
        "shipment, other carrier, some lines"
        if file_name == contracts.ADD_SHIPMENT_SCHEMA
        else "status with a lock"
    )
    document = copy.deepcopy(COMMANDS[base][1])
    if value is None:
        del document[field]
    else:
        document[field] = value

    assert validate(document, schema(file_name)) != []
    received = decode(document)
    assert received.command is None
    assert isinstance(received.refused, CommandFailed)
    assert received.refused.reason is FailureReason.INVALID


def test_a_command_without_a_uuid_command_id_fails_its_schema_and_is_not_a_command() -> None:
    document = {**COMMANDS["shipment, every line"][1], "command_id": "42"}

    assert validate(document, schema(contracts.ADD_SHIPMENT_SCHEMA)) == [
        "$.command_id: '42' is not a 'uuid'"
    ]
    assert decode(document).unreadable is not None  # nothing to answer: the dead-letter topic


def test_the_status_field_names_every_status_a_seller_may_set() -> None:
    description = schema(contracts.SET_FULFILLMENT_STATUS_SCHEMA)["properties"]["status"]
    words = set(description["description"].replace(",", " ").replace(";", " ").split())

    assert set(SETTABLE_FULFILLMENT) <= words, sorted(set(SETTABLE_FULFILLMENT) - words)


@pytest.mark.parametrize(
    "file_name", [contracts.SET_FULFILLMENT_STATUS_SCHEMA, contracts.ADD_SHIPMENT_SCHEMA]
)
def test_a_command_schema_says_the_service_ignores_unknown_fields(file_name: str) -> None:
    document = schema(file_name)

    assert document["additionalProperties"] is True
    assert "ignores fields it does not know" in document["description"]


RESULTS: dict[str, CommandResult] = {
    "status set": CommandSucceeded(COMMAND_ID, "SetFulfillmentStatus", ACCOUNT, FORM, AT),
    "shipment added": CommandSucceeded(
        COMMAND_ID, "AddShipment", ACCOUNT, FORM, AT, shipment_id="a1b2c3d4-0000-4000-8000-1"
    ),
    "rejected": CommandFailed(
        COMMAND_ID,
        "AddShipment",
        ACCOUNT,
        FORM,
        AT,
        FailureReason.REJECTED,
        "Invalid waybill",
        code="VALIDATION_ERROR",
    ),
    "conflict": CommandFailed(
        COMMAND_ID,
        "SetFulfillmentStatus",
        ACCOUNT,
        FORM,
        AT,
        FailureReason.CONFLICT,
        "the order changed",
        current_revision="7c0e55b1",
        current_status="PROCESSING",
    ),
    "invalid, nothing but an id": CommandFailed(
        str(COMMAND_ID), None, ACCOUNT, None, AT, FailureReason.INVALID, "command_type is not known"
    ),
}


@pytest.mark.parametrize("case", list(RESULTS))
def test_an_encoded_result_validates_against_the_published_and_the_strict_schema(
    case: str,
) -> None:
    record = KafkaResultEncoder().encode_result(RESULTS[case])
    value = json.loads(record.value)
    document = schema(contracts.COMMAND_RESULT_SCHEMA)
    headers_schema = contracts.asyncapi_document()["components"]["schemas"]["CommandResultHeaders"]

    assert validate(value, document) == []
    # exactly the declared fields: the published schema alone lets an undeclared one through
    assert validate(value, contracts.strict_schema(document)) == []
    assert validate({k: v.decode() for k, v in record.headers}, headers_schema) == []


def test_the_strict_result_schema_catches_a_field_we_would_emit_undeclared() -> None:
    value = json.loads(KafkaResultEncoder().encode_result(RESULTS["conflict"]).value)
    value["current_revison"] = value.pop("current_revision")  # a misspelt field
    document = schema(contracts.COMMAND_RESULT_SCHEMA)

    assert validate(value, document) == []  # open for consumers
    errors = " ".join(validate(value, contracts.strict_schema(document)))
    assert "'current_revision' is a required property" in errors
    assert "('current_revison' was unexpected)" in errors


def test_asyncapi_names_the_command_channels_and_operations() -> None:
    document = contracts.asyncapi_document()
    channels, operations = document["channels"], document["operations"]
    defaults = KafkaConfig(bootstrap_servers="localhost:9092")

    assert channels["commands"]["address"] == defaults.topic_commands
    assert channels["commandResults"]["address"] == defaults.topic_command_results
    assert channels["commands"]["messages"] == {
        "setFulfillmentStatus": {"$ref": "#/components/messages/SetFulfillmentStatus"},
        "addShipment": {"$ref": "#/components/messages/AddShipment"},
    }
    assert channels["commandResults"]["messages"] == {
        "commandResult": {"$ref": "#/components/messages/CommandResult"}
    }
    receive = operations["receiveCommands"]
    assert (receive["action"], receive["channel"]) == ("receive", {"$ref": "#/channels/commands"})
    assert receive["messages"] == [
        {"$ref": "#/channels/commands/messages/setFulfillmentStatus"},
        {"$ref": "#/channels/commands/messages/addShipment"},
    ]
    send = operations["publishCommandResults"]
    assert (send["action"], send["channel"]) == ("send", {"$ref": "#/channels/commandResults"})
    assert send["messages"] == [{"$ref": "#/channels/commandResults/messages/commandResult"}]
    messages = document["components"]["messages"]
    assert [messages[name]["payload"] for name in ("SetFulfillmentStatus", "AddShipment")] == [
        {"$ref": "./set-fulfillment-status.v1.schema.json"},
        {"$ref": "./add-shipment.v1.schema.json"},
    ]
    assert messages["CommandResult"]["payload"] == {"$ref": "./command-result.v1.schema.json"}


@pytest.mark.parametrize(
    ("name", "ce_type"),
    [
        ("SetFulfillmentStatus", "openoms.allegro.set_fulfillment_status.v1"),
        ("AddShipment", "openoms.allegro.add_shipment.v1"),
    ],
)
def test_the_documented_command_examples_validate_and_the_service_reads_them(
    name: str, ce_type: str
) -> None:
    document = contracts.asyncapi_document()
    message = document["components"]["messages"][name]
    example = message["examples"][0]
    payload_schema = schema(message["payload"]["$ref"].removeprefix("./"))
    headers = [(key, value.encode()) for key, value in example["headers"].items()]

    assert example["headers"]["ce_type"] == ce_type
    assert validate(example["payload"], payload_schema) == []
    received = decode_command(
        json.dumps(example["payload"]).encode(),
        headers,
        None,
        Position(0, 7),
        example["payload"]["account"],
    )
    assert received.command is not None
    assert received.at == datetime.fromisoformat(example["headers"]["ce_time"])


def test_ce_time_is_optional_on_a_command_and_required_on_a_result() -> None:
    document = contracts.asyncapi_document()
    schemas = document["components"]["schemas"]
    messages = document["components"]["messages"]

    for name in ("SetFulfillmentStatus", "AddShipment"):
        headers = dict(messages[name]["examples"][0]["headers"])
        del headers["ce_time"]
        assert validate(headers, schemas[f"{name}Headers"]) == [], name
        # any offset: the service converts it to UTC
        headers["ce_time"] = "2026-03-14T13:00:07+01:00"
        assert validate(headers, schemas[f"{name}Headers"]) == [], name

    result_headers = dict(messages["CommandResult"]["examples"][0]["headers"])
    del result_headers["ce_time"]
    assert validate(result_headers, schemas["CommandResultHeaders"]) == [
        "$: 'ce_time' is a required property"
    ]
