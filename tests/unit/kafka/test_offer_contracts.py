"""The offer topics' contract: the published schemas of SetStock, SetPrice and OfferChanged, the
results' `sku`, and their place in the AsyncAPI document (contracts/COMPATIBILITY.md)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.kafka.commands import KafkaResultEncoder
from adapters.kafka.config import KafkaConfig
from adapters.kafka.examples import example_offer_changed
from adapters.kafka.offers import KafkaOfferEncoder, decode_offer_command
from application.ports.commands import Position
from domain.commands import CommandFailed, CommandResult, CommandSucceeded, FailureReason
from domain.money import Money
from domain.offers import MarketPrice, OfferChanged
from tests.unit.kafka.test_contracts_drift import schema, validate
from tests.unit.kafka.test_offer_encoder import make_offer_changed
from tools import contracts

ACCOUNT = "shop-1"
COMMAND_ID = "5a3c2b1d-0000-4000-8000-0000000000a1"
AT = datetime(2026, 3, 14, 12, 0, 7, tzinfo=UTC)

# What a sender writes, field by field (not built by the code under test).
COMMANDS: dict[str, tuple[str, dict[str, Any]]] = {
    "stock": (
        contracts.SET_STOCK_SCHEMA,
        {
            "command_id": COMMAND_ID,
            "command_type": "SetStock",
            "account": ACCOUNT,
            "sku": "KUB-350-BIA",
            "available": 0,
        },
    ),
    "price, base marketplace": (
        contracts.SET_PRICE_SCHEMA,
        {
            "command_id": COMMAND_ID,
            "command_type": "SetPrice",
            "account": ACCOUNT,
            "sku": "KUB-350-BIA",
            "amount": "12.50",
            "currency": "PLN",
        },
    ),
    "price, another marketplace": (
        contracts.SET_PRICE_SCHEMA,
        {
            "command_id": COMMAND_ID,
            "command_type": "SetPrice",
            "account": ACCOUNT,
            "sku": "KUB-350-BIA",
            "amount": "349",
            "currency": "CZK",
            "marketplace": "allegro-cz",
        },
    ),
}


def decode(document: dict[str, Any]) -> Any:
    return decode_offer_command(
        json.dumps(document).encode(), [], 1_700_000_000_000, Position(0, 3), ACCOUNT
    )


@pytest.mark.parametrize("case", list(COMMANDS))
def test_a_command_as_a_sender_writes_it_validates_and_is_read(case: str) -> None:
    file_name, document = COMMANDS[case]

    assert validate(document, schema(file_name)) == []
    assert decode(document).command is not None


@pytest.mark.parametrize("case", list(COMMANDS))
def test_a_command_with_a_field_added_later_still_validates_and_is_read(case: str) -> None:
    file_name, document = COMMANDS[case]
    newer = {**document, "reason": "stocktaking"}

    assert validate(newer, schema(file_name)) == []
    assert decode(newer).command is not None


# Breaks the schema, and the service answers it `invalid`: the two agree.
BROKEN: dict[str, tuple[str, str, Any]] = {
    "stock: empty sku": ("stock", "sku", ""),
    "stock: sku over 100": ("stock", "sku", "s" * 101),
    "stock: negative": ("stock", "available", -1),
    "stock: over int32": ("stock", "available", 2_147_483_648),
    "stock: a string": ("stock", "available", "5"),
    "stock: a float": ("stock", "available", 5.5),
    "price: 3 decimals": ("price, base marketplace", "amount", "1.234"),
    "price: exponent": ("price, base marketplace", "amount", "1E+5"),
    "price: negative": ("price, base marketplace", "amount", "-1"),
    "price: a number": ("price, base marketplace", "amount", 12.5),
    "price: currency": ("price, base marketplace", "currency", "pln"),
    "price: marketplace": ("price, base marketplace", "marketplace", "Allegro PL"),
    "no command_type": ("stock", "command_type", None),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_the_schemas_reject_what_the_service_answers_as_invalid(case: str) -> None:
    name, field, value = BROKEN[case]
    file_name, document = COMMANDS[name]
    broken = copy.deepcopy(document)
    if value is None:
        del broken[field]
    else:
        broken[field] = value

    assert validate(broken, schema(file_name)) != []
    assert isinstance(decode(broken).refused, CommandFailed)


def test_a_zero_price_passes_the_schema_but_is_answered_invalid() -> None:
    """The one rule the schema cannot state (its pattern admits `0`): documented in the
    field's description instead."""
    document = {**COMMANDS["price, base marketplace"][1], "amount": "0.00"}

    assert validate(document, schema(contracts.SET_PRICE_SCHEMA)) == []
    assert "above 0" in schema(contracts.SET_PRICE_SCHEMA)["properties"]["amount"]["description"]
    assert isinstance(decode(document).refused, CommandFailed)


EVENTS: dict[str, OfferChanged] = {
    "active, two marketplaces": make_offer_changed(),
    "ended for empty stock": make_offer_changed(
        stock_available=0, publication_status="ENDED", ended_by="EMPTY_STOCK"
    ),
    "no sku, no stock, no price": make_offer_changed(
        sku=None, stock_available=None, prices=(), publication_status="INACTIVE"
    ),
    "a price with many decimals": make_offer_changed(
        prices=(MarketPrice("allegro-pl", Money(Decimal("0.12345678"), "PLN")),)
    ),
    "the example": example_offer_changed(),
}


@pytest.mark.parametrize("case", list(EVENTS))
def test_an_encoded_offer_change_validates_against_the_published_and_strict_schema(
    case: str,
) -> None:
    (message,) = KafkaOfferEncoder().encode_offers([EVENTS[case]])
    value = json.loads(message.value)
    document = schema(contracts.OFFER_CHANGED_SCHEMA)
    headers = contracts.asyncapi_document()["components"]["schemas"]["OfferChangedHeaders"]

    assert validate(value, document) == []
    assert validate(value, contracts.strict_schema(document)) == []
    assert validate({k: v.decode() for k, v in message.headers}, headers) == []


def test_the_offer_schema_rejects_a_float_amount_and_a_bad_time() -> None:
    (message,) = KafkaOfferEncoder().encode_offers([make_offer_changed()])
    value = json.loads(message.value)
    value["prices"][0]["amount"] = 59.5
    value["occurred_at"] = "2026-03-14 12:30"

    errors = " ".join(validate(value, schema(contracts.OFFER_CHANGED_SCHEMA)))

    assert "$.prices[0].amount" in errors
    assert "$.occurred_at" in errors


RESULTS: dict[str, CommandResult] = {
    "stock set": CommandSucceeded(
        uuid.UUID(COMMAND_ID), "SetStock", ACCOUNT, None, AT, sku="KUB-350-BIA"
    ),
    "unknown sku": CommandFailed(
        uuid.UUID(COMMAND_ID),
        "SetStock",
        ACCOUNT,
        None,
        AT,
        FailureReason.REJECTED,
        "no offer has this SKU",
        code="UNKNOWN_SKU",
        sku="KUB-350-BIA",
    ),
    "invalid with a sku": CommandFailed(
        COMMAND_ID, "SetPrice", ACCOUNT, None, AT, FailureReason.INVALID, "amount", sku="X"
    ),
}


@pytest.mark.parametrize("case", list(RESULTS))
def test_an_offer_commands_result_validates_against_the_published_and_strict_schema(
    case: str,
) -> None:
    value = json.loads(KafkaResultEncoder().encode_result(RESULTS[case]).value)
    document = schema(contracts.COMMAND_RESULT_SCHEMA)

    assert validate(value, document) == []
    assert validate(value, contracts.strict_schema(document)) == []


def test_the_strict_result_schema_lets_sku_be_absent_but_catches_a_misspelt_one() -> None:
    value = json.loads(KafkaResultEncoder().encode_result(RESULTS["stock set"]).value)
    value["skuu"] = value.pop("sku")
    document = schema(contracts.COMMAND_RESULT_SCHEMA)

    errors = " ".join(validate(value, contracts.strict_schema(document)))

    assert "('skuu' was unexpected)" in errors
    assert "is a required property" not in errors  # sku: sent by offer results only
    assert "sku" not in document["required"]  # order results, as before, stay valid


def test_asyncapi_names_the_offer_channels_and_operations_at_the_default_topics() -> None:
    document = contracts.asyncapi_document()
    channels, operations = document["channels"], document["operations"]
    defaults = KafkaConfig(bootstrap_servers="localhost:9092")

    assert channels["offerCommands"]["address"] == defaults.topic_offer_commands
    assert channels["offers"]["address"] == defaults.topic_offers
    assert channels["offerCommands"]["messages"] == {
        "setStock": {"$ref": "#/components/messages/SetStock"},
        "setPrice": {"$ref": "#/components/messages/SetPrice"},
    }
    receive, send = operations["receiveOfferCommands"], operations["publishOfferEvents"]
    assert (receive["action"], receive["channel"]) == (
        "receive",
        {"$ref": "#/channels/offerCommands"},
    )
    assert (send["action"], send["channel"]) == ("send", {"$ref": "#/channels/offers"})
    messages = document["components"]["messages"]
    assert [messages[name]["payload"] for name in ("SetStock", "SetPrice", "OfferChanged")] == [
        {"$ref": "./set-stock.v1.schema.json"},
        {"$ref": "./set-price.v1.schema.json"},
        {"$ref": "./offer-changed.v1.schema.json"},
    ]


@pytest.mark.parametrize(
    ("name", "ce_type"),
    [("SetStock", "openoms.allegro.set_stock.v1"), ("SetPrice", "openoms.allegro.set_price.v1")],
)
def test_the_documented_offer_command_examples_validate_and_are_read(
    name: str, ce_type: str
) -> None:
    message = contracts.asyncapi_document()["components"]["messages"][name]
    example = message["examples"][0]
    headers = [(key, value.encode()) for key, value in example["headers"].items()]

    assert example["headers"]["ce_type"] == ce_type
    assert example["headers"]["ce_subject"] == example["payload"]["sku"]
    assert validate(example["payload"], schema(message["payload"]["$ref"][2:])) == []
    received = decode_offer_command(
        json.dumps(example["payload"]).encode(),
        headers,
        None,
        Position(0, 1),
        example["payload"]["account"],
    )
    assert received.command is not None
    assert received.at == datetime.fromisoformat(example["headers"]["ce_time"])


def test_the_documented_offer_examples_are_what_the_service_encodes() -> None:
    messages = contracts.asyncapi_document()["components"]["messages"]
    (offer,) = KafkaOfferEncoder().encode_offers([example_offer_changed()])
    offer_result = messages["CommandResult"]["examples"][1]

    assert messages["OfferChanged"]["examples"][0]["payload"] == json.loads(offer.value)
    assert offer_result["payload"]["sku"] == offer_result["headers"]["ce_subject"]
    assert validate(offer_result["payload"], schema(contracts.COMMAND_RESULT_SCHEMA)) == []
