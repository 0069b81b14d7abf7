"""Generates `contracts/`: JSON Schemas from the message models, and an AsyncAPI 3.0 document.

A build-time tool, not part of the service: it lives outside `src/` so neither it nor PyYAML
ships in the image. Run from the repository root after changing a message model, and commit
the result (tests/unit/kafka/test_contracts_drift.py fails while `contracts/` is stale):

    python -m tools.contracts          # rewrite the files
    python -m tools.contracts --check  # exit 1 when they are out of date
    python -m tools.contracts --release  # copy the schemas to contracts/released/

The published schemas are open (`additionalProperties: true` on every object): within a
version fields are only ever added (contracts/COMPATIBILITY.md), and a consumer validating
against them must not reject a record for a field it does not know yet. Our own producer-side
tests validate against `strict_schema` instead, which closes every object and requires every
declared property, so a field we emit but do not declare (or declare but do not emit) fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from adapters.kafka.commands import (
    CE_TYPE_ADD_SHIPMENT,
    CE_TYPE_COMMAND_RESULT,
    CE_TYPE_SET_FULFILLMENT_STATUS,
    AddShipmentMessage,
    CommandResultMessage,
    KafkaResultEncoder,
    SetFulfillmentStatusMessage,
)
from adapters.kafka.examples import (
    ACCOUNT,
    CHECKOUT_FORM_ID,
    REVISION,
    SKU,
    example_dead_letter,
    example_offer_changed,
    example_order_imported,
    example_order_status_changed,
    example_order_updated,
)
from adapters.kafka.messages import (
    CE_TYPE_ORDER_DEAD_LETTERED,
    CE_TYPE_ORDER_IMPORTED,
    CE_TYPE_ORDER_STATUS_CHANGED,
    CE_TYPE_ORDER_UPDATED,
    CONTENT_TYPE,
    UTC_TIMESTAMP_PATTERN,
    DeadLetterMessage,
    KafkaRecord,
    OrderImportedMessage,
    OrderStatusChangedMessage,
    OrderUpdatedMessage,
    cloudevent_headers,
    encode_dead_letter,
    encode_event,
)
from adapters.kafka.offers import (
    CE_TYPE_OFFER_CHANGED,
    CE_TYPE_SET_PRICE,
    CE_TYPE_SET_STOCK,
    KafkaOfferEncoder,
    OfferChangedMessage,
    SetPriceMessage,
    SetStockMessage,
)
from application.ports.publisher import OutboundMessage
from domain.commands import CommandSucceeded
from tools.schema_compat import breaking_changes

JSON_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
ORDER_IMPORTED_SCHEMA = "order-imported.v1.schema.json"
ORDER_STATUS_CHANGED_SCHEMA = "order-status-changed.v1.schema.json"
ORDER_UPDATED_SCHEMA = "order-updated.v1.schema.json"
DEAD_LETTER_SCHEMA = "dead-letter.v1.schema.json"
SET_FULFILLMENT_STATUS_SCHEMA = "set-fulfillment-status.v1.schema.json"
ADD_SHIPMENT_SCHEMA = "add-shipment.v1.schema.json"
COMMAND_RESULT_SCHEMA = "command-result.v1.schema.json"
SET_STOCK_SCHEMA = "set-stock.v1.schema.json"
SET_PRICE_SCHEMA = "set-price.v1.schema.json"
OFFER_CHANGED_SCHEMA = "offer-changed.v1.schema.json"
ASYNCAPI_FILE = "asyncapi.yaml"
RELEASED_DIR = "released"
REGENERATE_COMMAND = "python -m tools.contracts"
COMPATIBILITY_NOTE = (
    "Evolves by contracts/COMPATIBILITY.md: within this version fields are only added; "
    "ignore the ones you do not know."
)
# Long descriptions stay on one line: a folded scalar would move on every rewording.
YAML_WIDTH = 1_000_000

SCHEMA_MODELS: dict[str, tuple[str, type[BaseModel]]] = {
    ORDER_IMPORTED_SCHEMA: ("OrderImported v1", OrderImportedMessage),
    ORDER_STATUS_CHANGED_SCHEMA: ("OrderStatusChanged v1", OrderStatusChangedMessage),
    ORDER_UPDATED_SCHEMA: ("OrderUpdated v1", OrderUpdatedMessage),
    DEAD_LETTER_SCHEMA: ("OrderDeadLettered v1", DeadLetterMessage),
    SET_FULFILLMENT_STATUS_SCHEMA: ("SetFulfillmentStatus v1", SetFulfillmentStatusMessage),
    ADD_SHIPMENT_SCHEMA: ("AddShipment v1", AddShipmentMessage),
    COMMAND_RESULT_SCHEMA: ("CommandResult v1", CommandResultMessage),
    SET_STOCK_SCHEMA: ("SetStock v1", SetStockMessage),
    SET_PRICE_SCHEMA: ("SetPrice v1", SetPriceMessage),
    OFFER_CHANGED_SCHEMA: ("OfferChanged v1", OfferChangedMessage),
}
# The declared fields our producer sends only in some of a message's records: `sku` is in
# the results of offer commands only, so that an order command's result keeps the bytes it
# had before the field was added. The strict schema leaves them optional.
SOMETIMES_ABSENT: dict[str, frozenset[str]] = {COMMAND_RESULT_SCHEMA: frozenset({"sku"})}


def json_schema(file_name: str) -> dict[str, Any]:
    """Draft-07 JSON Schema (the dialect AsyncAPI 3.0 payloads use) of one message model, as
    published: every object open to fields added later (`open_objects`)."""
    title, model = SCHEMA_MODELS[file_name]
    generated = model.model_json_schema(mode="serialization", ref_template="#/definitions/{model}")
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DRAFT,
        "$id": file_name,
        "$comment": COMPATIBILITY_NOTE,
        "title": title,
    }
    for key in ("description", "type", "required", "properties"):
        schema[key] = generated[key]
    # A consumed command's model ignores unknown fields, so pydantic states no
    # `additionalProperties` for it; `open_objects` below opens every object either way.
    schema["additionalProperties"] = generated.get("additionalProperties", True)
    if "$defs" in generated:
        schema["definitions"] = generated["$defs"]
    return open_objects(schema)


def open_objects(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` whose every object with declared properties (the message and each
    nested model) allows additional properties: the models forbid extra fields (we never
    emit one), but the published contract must let consumers accept the ones a later release
    of the same version adds."""
    opened: dict[str, Any] = _with_objects(schema, strict=False)
    return opened


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` whose every object with declared properties allows no other
    property and requires all of them: what our producer emits, exactly. For our tests only;
    consumers validate against the open, published schema."""
    closed: dict[str, Any] = _with_objects(schema, strict=True)
    absent = SOMETIMES_ABSENT.get(str(schema.get("$id")), frozenset())
    closed["required"] = [name for name in closed["required"] if name not in absent]
    return closed


def _with_objects(node: Any, *, strict: bool) -> Any:
    if isinstance(node, list):
        return [_with_objects(item, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: _with_objects(value, strict=strict) for key, value in node.items()}
    properties = copy.get("properties")
    # `properties` is a keyword only where its value is a mapping of schemas; a property
    # named "properties" inside one is a schema, not this mapping.
    if isinstance(properties, dict) and copy.get("type") == "object":
        copy["additionalProperties"] = not strict
        if strict:
            copy["required"] = list(properties)
    return copy


def _headers_schema(ce_type: str, subject: str) -> dict[str, Any]:
    """The headers of a message we publish: every one of them, always."""
    return {
        "type": "object",
        "description": "CloudEvents 1.0 Kafka binary-mode headers (UTF-8 values).",
        "required": [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_subject",
            "ce_time",
            "content-type",
        ],
        "properties": {
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {"type": "string", "description": "Unique, deterministic id of the message."},
            "ce_source": {
                "type": "string",
                "pattern": "^allegro/.+$",
                "description": "`allegro/<ALLEGRO_ACCOUNT>`.",
            },
            "ce_type": {"type": "string", "const": ce_type},
            "ce_subject": {"type": "string", "description": subject},
            "ce_time": {"type": "string", "format": "date-time", "pattern": UTC_TIMESTAMP_PATTERN},
            "content-type": {"type": "string", "const": CONTENT_TYPE},
        },
    }


def _command_headers_schema(
    ce_type: str, subject: str = "Checkout form id (= `checkout_form_id`)."
) -> dict[str, Any]:
    """The headers of a command, as its sender writes them: those of the messages we publish,
    `ce_time` optional and in any offset (the service reads it, with the value's
    `command_type`, and no other header: adapters/kafka/commands.py, offers.py)."""
    headers = _headers_schema(ce_type, subject)
    headers["description"] = (
        "CloudEvents 1.0 Kafka binary-mode headers (UTF-8 values), as on the topics the "
        "service publishes, `ce_time` optional. The service reads the command from the value "
        "(`command_type`) and, of the headers, only `ce_time`."
    )
    headers["required"].remove("ce_time")
    properties = headers["properties"]
    properties["ce_id"] = {
        "type": "string",
        "description": "Unique id of the record, chosen by the sender (e.g. the `command_id`).",
    }
    properties["ce_source"] = {"type": "string", "description": "The sender, e.g. `openoms`."}
    properties["ce_time"] = {
        "type": "string",
        "format": "date-time",
        "description": (
            "When the command was issued (RFC 3339 with an offset): the result's "
            "`occurred_at`, in UTC. Absent, unreadable or without an offset: the record's "
            "timestamp is used, so a re-delivered command's result is the same."
        ),
    }
    return headers


def _result_headers_schema() -> dict[str, Any]:
    """The headers of a command's result: those of the messages we publish."""
    return _headers_schema(
        CE_TYPE_COMMAND_RESULT,
        "The record key: the command's SKU (an offer command) or checkout form id (an order "
        "command), else its command id.",
    )


def _kafka_key(description: str) -> dict[str, Any]:
    key = {"type": "string", "description": description}
    return {"kafka": {"key": key, "bindingVersion": "0.5.0"}}


def _example(name: str, summary: str, record: KafkaRecord | OutboundMessage) -> dict[str, Any]:
    return {
        "name": name,
        "summary": summary,
        "headers": {key: value.decode("utf-8") for key, value in record.headers},
        "payload": json.loads(record.value),
    }


SKU_SUBJECT = "The SKU (= `sku`)."
ORDER_CORRELATION = {
    "description": "The record key: the Allegro checkout form id.",
    "location": "$message.header#/ce_subject",
}
COMMAND_CORRELATION = {
    "description": "The command id: a command's result carries the same `command_id`.",
    "location": "$message.payload#/command_id",
}


def _message(
    *,
    name: str,
    title: str,
    summary: str,
    schema_file: str,
    headers: str,
    key: str,
    example: Any,
    correlation: dict[str, str] = ORDER_CORRELATION,
    more_examples: Sequence[Any] = (),
) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": f"#/components/schemas/{headers}"},
        "payload": {"$ref": f"./{schema_file}"},
        "correlationId": dict(correlation),
        "bindings": _kafka_key(key),
        "examples": [example, *more_examples],
    }


# Fixed, fictional commands for the document's examples, about the order of the event examples
# (adapters/kafka/examples.py). Written out, not built by the service: they are what a sender
# writes, and the tests check that the service reads them.
EXAMPLE_COMMAND_TIME = "2024-06-19T07:58:30Z"
EXAMPLE_SET_FULFILLMENT_STATUS: dict[str, Any] = {
    "command_id": "8c1f4e52-2b7a-4d0e-9f63-1a5e7d2c9b01",
    "command_type": "SetFulfillmentStatus",
    "account": ACCOUNT,
    "checkout_form_id": CHECKOUT_FORM_ID,
    "status": "SENT",
    "expected_revision": REVISION,
}
EXAMPLE_ADD_SHIPMENT: dict[str, Any] = {
    "command_id": "8c1f4e52-2b7a-4d0e-9f63-1a5e7d2c9b02",
    "command_type": "AddShipment",
    "account": ACCOUNT,
    "checkout_form_id": CHECKOUT_FORM_ID,
    "carrier_id": "INPOST",
    "waybill": "620012345678901234567890",
    "carrier_name": None,
    "line_item_ids": [],
}


EXAMPLE_SET_STOCK: dict[str, Any] = {
    "command_id": "8c1f4e52-2b7a-4d0e-9f63-1a5e7d2c9b03",
    "command_type": "SetStock",
    "account": ACCOUNT,
    "sku": SKU,
    "available": 0,
}
EXAMPLE_SET_PRICE: dict[str, Any] = {
    "command_id": "8c1f4e52-2b7a-4d0e-9f63-1a5e7d2c9b04",
    "command_type": "SetPrice",
    "account": ACCOUNT,
    "sku": SKU,
    "amount": "54.90",
    "currency": "PLN",
    "marketplace": "allegro-pl",
}


def _command_record(ce_type: str, document: dict[str, Any], key_field: str) -> KafkaRecord:
    key = str(document[key_field])
    headers = cloudevent_headers(
        ce_id=str(document["command_id"]),
        source="openoms",
        ce_type=ce_type,
        subject=key,
        time=EXAMPLE_COMMAND_TIME,
    )
    return KafkaRecord(key.encode("utf-8"), json.dumps(document).encode("utf-8"), headers)


def _example_result() -> OutboundMessage:
    """The result of `EXAMPLE_ADD_SHIPMENT`, encoded by the service."""
    succeeded = CommandSucceeded(
        command_id=uuid.UUID(EXAMPLE_ADD_SHIPMENT["command_id"]),
        command_type="AddShipment",
        account=ACCOUNT,
        checkout_form_id=CHECKOUT_FORM_ID,
        occurred_at=datetime.fromisoformat(EXAMPLE_COMMAND_TIME).astimezone(UTC),
        shipment_id="4f6b0a3e-95d1-4c27-b8e0-2d7c1a9e5f13",
    )
    return KafkaResultEncoder().encode_result(succeeded)


def _example_offer_result() -> OutboundMessage:
    """The result of `EXAMPLE_SET_STOCK`, encoded by the service."""
    succeeded = CommandSucceeded(
        command_id=uuid.UUID(EXAMPLE_SET_STOCK["command_id"]),
        command_type="SetStock",
        account=ACCOUNT,
        checkout_form_id=None,
        occurred_at=datetime.fromisoformat(EXAMPLE_COMMAND_TIME).astimezone(UTC),
        sku=SKU,
    )
    return KafkaResultEncoder().encode_result(succeeded)


def _example_offer_changed() -> OutboundMessage:
    (message,) = KafkaOfferEncoder().encode_offers([example_offer_changed()])
    return message


def asyncapi_document() -> dict[str, Any]:
    order_key = "Allegro checkout form id (UTF-8): all events of one order share a partition."
    command_key = (
        "Allegro checkout form id (UTF-8), set by the sender: one order's commands share a "
        "partition and are applied in order."
    )
    result_key = (
        "The command's SKU (UTF-8) for an offer command, its checkout form id for an order "
        "command; its command id when an `invalid` command had neither."
    )
    sku_key = (
        "The SKU (UTF-8), set by the sender: one SKU's commands share a partition and are "
        "applied in order (the latest value wins)."
    )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "openoms-allegro order and offer events and commands",
            "version": "1.0.0",
            "description": (
                "Allegro.pl orders imported into OpenOMS, OpenOMS's commands applied to them "
                "and to the seller's offers (stock, price) on Allegro, each answered by one "
                "result, and the offers' changes on Allegro. Values are UTF-8 JSON; money is a "
                "decimal string, times are RFC 3339 UTC. `event_id` (= `ce_id`) is "
                "deterministic: consumers deduplicate on it. Topic names are configurable "
                "(KAFKA_TOPIC_ORDERS, KAFKA_TOPIC_DLQ, KAFKA_TOPIC_COMMANDS, "
                "KAFKA_TOPIC_COMMAND_RESULTS, KAFKA_TOPIC_OFFER_COMMANDS, KAFKA_TOPIC_OFFERS); "
                "the addresses below are the defaults. "
                "Within a `ce_type` version fields are only added, never removed, renamed or "
                "narrowed: consumers ignore fields they do not know (contracts/COMPATIBILITY.md); "
                "a breaking change is a new `ce_type` version, published side by side."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": {
            "orders": {
                "address": "openoms.orders.v1",
                "title": "Order events",
                "description": (
                    "OrderImported, OrderStatusChanged and OrderUpdated, keyed by checkout form id."
                ),
                "messages": {
                    "orderImported": {"$ref": "#/components/messages/OrderImported"},
                    "orderStatusChanged": {"$ref": "#/components/messages/OrderStatusChanged"},
                    "orderUpdated": {"$ref": "#/components/messages/OrderUpdated"},
                },
            },
            "deadLetters": {
                "address": "openoms.orders.dlq.v1",
                "title": "Dead letters",
                "description": "Checkout forms quarantined after repeated mapping failures.",
                "messages": {
                    "orderDeadLettered": {"$ref": "#/components/messages/OrderDeadLettered"},
                },
            },
            "commands": {
                "address": "openoms.allegro.commands.v1",
                "title": "Commands",
                "description": (
                    "OpenOMS's commands to apply on Allegro, keyed by checkout form id; each "
                    "account's service applies its own (`account`) and skips the others. A "
                    "record that is not a command (not JSON, no `command_id`) goes to the "
                    "dead-letter topic as it came."
                ),
                "messages": {
                    "setFulfillmentStatus": {"$ref": "#/components/messages/SetFulfillmentStatus"},
                    "addShipment": {"$ref": "#/components/messages/AddShipment"},
                },
            },
            "commandResults": {
                "address": "openoms.allegro.command-results.v1",
                "title": "Command results",
                "description": (
                    "Exactly one result per command id (order and offer commands alike), keyed "
                    "like the command."
                ),
                "messages": {
                    "commandResult": {"$ref": "#/components/messages/CommandResult"},
                },
            },
            "offerCommands": {
                "address": "openoms.allegro.offer-commands.v1",
                "title": "Offer commands",
                "description": (
                    "OpenOMS's stock and price commands for the offers of a SKU, keyed by SKU; "
                    "each account's service applies its own (`account`) and skips the others. "
                    "Commands are batched: the latest value per offer wins. A record that is "
                    "not a command (not JSON, no `command_id`) goes to the dead-letter topic as "
                    "it came."
                ),
                "messages": {
                    "setStock": {"$ref": "#/components/messages/SetStock"},
                    "setPrice": {"$ref": "#/components/messages/SetPrice"},
                },
            },
            "offers": {
                "address": "openoms.offers.v1",
                "title": "Offer events",
                "description": "OfferChanged, keyed by Allegro offer id.",
                "messages": {
                    "offerChanged": {"$ref": "#/components/messages/OfferChanged"},
                },
            },
        },
        "operations": {
            "publishOrderEvents": {
                "action": "send",
                "summary": "Published once Kafka acknowledges (acks=all), before the cursor moves.",
                "channel": {"$ref": "#/channels/orders"},
                "messages": [
                    {"$ref": "#/channels/orders/messages/orderImported"},
                    {"$ref": "#/channels/orders/messages/orderStatusChanged"},
                    {"$ref": "#/channels/orders/messages/orderUpdated"},
                ],
            },
            "publishDeadLetters": {
                "action": "send",
                "channel": {"$ref": "#/channels/deadLetters"},
                "messages": [{"$ref": "#/channels/deadLetters/messages/orderDeadLettered"}],
            },
            "receiveCommands": {
                "action": "receive",
                "summary": (
                    "Read by the consumer group `openoms-allegro.<ALLEGRO_ACCOUNT>`; the offset "
                    "is committed once the command's effect and its result are durable, so a "
                    "command is delivered again after a crash and applying it again changes "
                    "nothing."
                ),
                "channel": {"$ref": "#/channels/commands"},
                "messages": [
                    {"$ref": "#/channels/commands/messages/setFulfillmentStatus"},
                    {"$ref": "#/channels/commands/messages/addShipment"},
                ],
            },
            "publishCommandResults": {
                "action": "send",
                "summary": (
                    "Published once Kafka acknowledges (acks=all), before the command's offset "
                    "is committed; a re-sent result is byte-identical."
                ),
                "channel": {"$ref": "#/channels/commandResults"},
                "messages": [{"$ref": "#/channels/commandResults/messages/commandResult"}],
            },
            "receiveOfferCommands": {
                "action": "receive",
                "summary": (
                    "Read by the consumer group `openoms-allegro.<ALLEGRO_ACCOUNT>.offers`; the "
                    "offsets are committed once the batch that carries them is done on Allegro "
                    "and their results are acknowledged, so a command is delivered again after "
                    "a crash and applying it again changes nothing."
                ),
                "channel": {"$ref": "#/channels/offerCommands"},
                "messages": [
                    {"$ref": "#/channels/offerCommands/messages/setStock"},
                    {"$ref": "#/channels/offerCommands/messages/setPrice"},
                ],
            },
            "publishOfferEvents": {
                "action": "send",
                "summary": (
                    "Published once Kafka acknowledges (acks=all), before the offer event "
                    "cursor moves; a re-sent event is byte-identical."
                ),
                "channel": {"$ref": "#/channels/offers"},
                "messages": [{"$ref": "#/channels/offers/messages/offerChanged"}],
            },
        },
        "components": {
            "messages": {
                "OrderImported": _message(
                    name="OrderImported",
                    title="Order imported",
                    summary="An order reached the import trigger; published once per order.",
                    schema_file=ORDER_IMPORTED_SCHEMA,
                    headers="OrderImportedHeaders",
                    key=order_key,
                    example=_example(
                        "paidParcelLockerOrder",
                        "A paid order to a parcel locker",
                        encode_event(example_order_imported()),
                    ),
                ),
                "OrderStatusChanged": _message(
                    name="OrderStatusChanged",
                    title="Order status changed",
                    summary="The derived status triple changed after import.",
                    schema_file=ORDER_STATUS_CHANGED_SCHEMA,
                    headers="OrderStatusChangedHeaders",
                    key=order_key,
                    example=_example(
                        "shipped",
                        "The seller marked the order as sent",
                        encode_event(example_order_status_changed()),
                    ),
                ),
                "OrderUpdated": _message(
                    name="OrderUpdated",
                    title="Order updated",
                    summary=(
                        "An imported order's content (anything but its status) changed; the "
                        "whole current order and the fields that changed."
                    ),
                    schema_file=ORDER_UPDATED_SCHEMA,
                    headers="OrderUpdatedHeaders",
                    key=order_key,
                    example=_example(
                        "surchargePaid",
                        "The buyer paid a surcharge (a top-up)",
                        encode_event(example_order_updated()),
                    ),
                ),
                "OrderDeadLettered": _message(
                    name="OrderDeadLettered",
                    title="Order dead-lettered",
                    summary="A checkout form that could not be mapped, with what replays it.",
                    schema_file=DEAD_LETTER_SCHEMA,
                    headers="OrderDeadLetteredHeaders",
                    key="Allegro checkout form id (UTF-8).",
                    example=_example(
                        "unknownStatus",
                        "An order status the mapping does not know",
                        encode_dead_letter(example_dead_letter()),
                    ),
                ),
                "SetFulfillmentStatus": _message(
                    name="SetFulfillmentStatus",
                    title="Set fulfillment status",
                    summary="Set an order's fulfillment status on Allegro.",
                    schema_file=SET_FULFILLMENT_STATUS_SCHEMA,
                    headers="SetFulfillmentStatusHeaders",
                    key=command_key,
                    example=_example(
                        "markSent",
                        "Mark the order as sent, unless it changed since revision f3a1c9d2",
                        _command_record(
                            CE_TYPE_SET_FULFILLMENT_STATUS,
                            EXAMPLE_SET_FULFILLMENT_STATUS,
                            "checkout_form_id",
                        ),
                    ),
                    correlation=COMMAND_CORRELATION,
                ),
                "AddShipment": _message(
                    name="AddShipment",
                    title="Add shipment",
                    summary="Add a tracking number to an order on Allegro, once.",
                    schema_file=ADD_SHIPMENT_SCHEMA,
                    headers="AddShipmentHeaders",
                    key=command_key,
                    example=_example(
                        "inpostParcel",
                        "An InPost parcel holding every line of the order",
                        _command_record(
                            CE_TYPE_ADD_SHIPMENT, EXAMPLE_ADD_SHIPMENT, "checkout_form_id"
                        ),
                    ),
                    correlation=COMMAND_CORRELATION,
                ),
                "CommandResult": _message(
                    name="CommandResult",
                    title="Command result",
                    summary="How a command ended: `CommandSucceeded` or `CommandFailed`.",
                    schema_file=COMMAND_RESULT_SCHEMA,
                    headers="CommandResultHeaders",
                    key=result_key,
                    example=_example(
                        "shipmentAdded",
                        "The InPost parcel is on the order",
                        _example_result(),
                    ),
                    correlation=COMMAND_CORRELATION,
                    more_examples=[
                        _example(
                            "stockSet",
                            "The SKU's offers show the stock (here 0: they are ended)",
                            _example_offer_result(),
                        )
                    ],
                ),
                "SetStock": _message(
                    name="SetStock",
                    title="Set stock",
                    summary="Set the available stock of a SKU's offers on Allegro.",
                    schema_file=SET_STOCK_SCHEMA,
                    headers="SetStockHeaders",
                    key=sku_key,
                    example=_example(
                        "soldOut",
                        "The mug is sold out: its offers end",
                        _command_record(CE_TYPE_SET_STOCK, EXAMPLE_SET_STOCK, "sku"),
                    ),
                    correlation=COMMAND_CORRELATION,
                ),
                "SetPrice": _message(
                    name="SetPrice",
                    title="Set price",
                    summary="Set the Buy Now price of a SKU's offers on one marketplace.",
                    schema_file=SET_PRICE_SCHEMA,
                    headers="SetPriceHeaders",
                    key=sku_key,
                    example=_example(
                        "newPrice",
                        "The mug costs 54.90 PLN on allegro.pl",
                        _command_record(CE_TYPE_SET_PRICE, EXAMPLE_SET_PRICE, "sku"),
                    ),
                    correlation=COMMAND_CORRELATION,
                ),
                "OfferChanged": _message(
                    name="OfferChanged",
                    title="Offer changed",
                    summary="What an offer looks like on Allegro now, when it changed.",
                    schema_file=OFFER_CHANGED_SCHEMA,
                    headers="OfferChangedHeaders",
                    key="Allegro offer id (UTF-8): all events of one offer share a partition.",
                    example=_example(
                        "endedForEmptyStock",
                        "Allegro ended the offer: its stock ran out",
                        _example_offer_changed(),
                    ),
                    correlation={
                        "description": "The record key: the Allegro offer id.",
                        "location": "$message.header#/ce_subject",
                    },
                ),
            },
            "schemas": {
                "OrderImportedHeaders": _headers_schema(
                    CE_TYPE_ORDER_IMPORTED, "Checkout form id (= `external_id`)."
                ),
                "OrderStatusChangedHeaders": _headers_schema(
                    CE_TYPE_ORDER_STATUS_CHANGED, "Checkout form id (= `external_id`)."
                ),
                "OrderUpdatedHeaders": _headers_schema(
                    CE_TYPE_ORDER_UPDATED, "Checkout form id (= `external_id`)."
                ),
                "OrderDeadLetteredHeaders": _headers_schema(
                    CE_TYPE_ORDER_DEAD_LETTERED, "Checkout form id (= `checkout_form_id`)."
                ),
                "SetFulfillmentStatusHeaders": _command_headers_schema(
                    CE_TYPE_SET_FULFILLMENT_STATUS
                ),
                "AddShipmentHeaders": _command_headers_schema(CE_TYPE_ADD_SHIPMENT),
                "CommandResultHeaders": _result_headers_schema(),
                "SetStockHeaders": _command_headers_schema(CE_TYPE_SET_STOCK, SKU_SUBJECT),
                "SetPriceHeaders": _command_headers_schema(CE_TYPE_SET_PRICE, SKU_SUBJECT),
                "OfferChangedHeaders": _headers_schema(
                    CE_TYPE_OFFER_CHANGED, "Allegro offer id (= `offer_id`)."
                ),
            },
        },
    }


def render() -> dict[str, str]:
    """Every contract file's name and exact text."""
    files = {
        name: json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n"
        for name in SCHEMA_MODELS
    }
    header = f"# Generated by `{REGENERATE_COMMAND}` from the message models. Do not edit.\n"
    files[ASYNCAPI_FILE] = header + to_yaml(asyncapi_document())
    return files


def to_yaml(value: Any) -> str:
    """Block-style YAML that `yaml.safe_load` reads back as `value`.

    Keys keep the document's order (no sorting), so a change to one message shows up as a
    change to that message only; PyYAML quotes every string that would otherwise read back
    as another type (`"1.0"`, `"on"`, `"null"`).
    """
    return yaml.safe_dump(
        value, sort_keys=False, allow_unicode=True, default_flow_style=False, width=YAML_WIDTH
    )


def stale_files(directory: Path) -> list[str]:
    """Names of the contract files missing from `directory` or differing from `render()`."""
    stale = []
    for name, text in render().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def write(directory: Path) -> list[str]:
    """Rewrite the contract files that changed; returns their names."""
    changed = stale_files(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        if name in changed:
            (directory / name).write_text(text, encoding="utf-8")
    return changed


class ReleaseRefused(Exception):
    """The schemas cannot become the released baseline: stale, or breaking the last one."""


def release(directory: Path) -> list[str]:
    """Copy the published schemas to `directory/released/`, the baseline the compatibility
    test holds every later schema of the same version to (contracts/COMPATIBILITY.md).
    Refused while `directory` is stale or a schema breaks its current released copy: a
    breaking change is a new version, never a new baseline for the old one. Returns the
    names of the copies written or changed."""
    stale = stale_files(directory)
    if stale:
        raise ReleaseRefused(f"stale: {', '.join(stale)}; run `{REGENERATE_COMMAND}` first")
    released = directory / RELEASED_DIR
    problems = []
    for name in SCHEMA_MODELS:
        baseline = released / name
        if baseline.is_file():
            old = json.loads(baseline.read_text(encoding="utf-8"))
            new = json.loads((directory / name).read_text(encoding="utf-8"))
            problems += [f"{name}: {problem}" for problem in breaking_changes(old, new)]
    if problems:
        raise ReleaseRefused("breaks the released copy:\n" + "\n".join(problems))
    released.mkdir(exist_ok=True)
    written = []
    for name in SCHEMA_MODELS:
        text = (directory / name).read_text(encoding="utf-8")
        copy = released / name
        if not copy.is_file() or copy.read_text(encoding="utf-8") != text:
            copy.write_text(text, encoding="utf-8")
            written.append(name)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE_COMMAND, description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="fail when the files are stale")
    group.add_argument(
        "--release", action="store_true", help=f"copy the schemas to <dir>/{RELEASED_DIR}/"
    )
    parser.add_argument(
        "--dir", type=Path, default=Path("contracts"), help="output directory (./contracts)"
    )
    args = parser.parse_args(argv)
    if args.release:
        try:
            written = release(args.dir)
        except ReleaseRefused as refused:
            print(f"release refused: {refused}", file=sys.stderr)
            return 1
        for name in written:
            print(f"released {args.dir / RELEASED_DIR / name}")
        return 0
    if args.check:
        stale = stale_files(args.dir)
        for name in stale:
            print(f"stale: {args.dir / name}", file=sys.stderr)
        if stale:
            print(f"run `{REGENERATE_COMMAND}` and commit the result", file=sys.stderr)
        return 1 if stale else 0
    for name in write(args.dir):
        print(f"wrote {args.dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
