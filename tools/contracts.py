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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from adapters.kafka.examples import (
    example_dead_letter,
    example_order_imported,
    example_order_status_changed,
)
from adapters.kafka.messages import (
    CE_TYPE_ORDER_DEAD_LETTERED,
    CE_TYPE_ORDER_IMPORTED,
    CE_TYPE_ORDER_STATUS_CHANGED,
    CONTENT_TYPE,
    UTC_TIMESTAMP_PATTERN,
    DeadLetterMessage,
    KafkaRecord,
    OrderImportedMessage,
    OrderStatusChangedMessage,
    encode_dead_letter,
    encode_event,
)
from tools.schema_compat import breaking_changes

JSON_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
ORDER_IMPORTED_SCHEMA = "order-imported.v1.schema.json"
ORDER_STATUS_CHANGED_SCHEMA = "order-status-changed.v1.schema.json"
DEAD_LETTER_SCHEMA = "dead-letter.v1.schema.json"
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
    DEAD_LETTER_SCHEMA: ("OrderDeadLettered v1", DeadLetterMessage),
}


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
    for key in ("description", "type", "required", "properties", "additionalProperties"):
        schema[key] = generated[key]
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


def _kafka_key(description: str) -> dict[str, Any]:
    key = {"type": "string", "description": description}
    return {"kafka": {"key": key, "bindingVersion": "0.5.0"}}


def _example(name: str, summary: str, record: KafkaRecord) -> dict[str, Any]:
    return {
        "name": name,
        "summary": summary,
        "headers": {key: value.decode("utf-8") for key, value in record.headers},
        "payload": json.loads(record.value),
    }


def _message(
    *, name: str, title: str, summary: str, schema_file: str, headers: str, key: str, example: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": f"#/components/schemas/{headers}"},
        "payload": {"$ref": f"./{schema_file}"},
        "correlationId": {
            "description": "The record key: the Allegro checkout form id.",
            "location": "$message.header#/ce_subject",
        },
        "bindings": _kafka_key(key),
        "examples": [example],
    }


def asyncapi_document() -> dict[str, Any]:
    order_key = "Allegro checkout form id (UTF-8): all events of one order share a partition."
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "openoms-allegro order events",
            "version": "1.0.0",
            "description": (
                "Allegro.pl orders imported into OpenOMS. Values are UTF-8 JSON; money is a "
                "decimal string, times are RFC 3339 UTC. `event_id` (= `ce_id`) is "
                "deterministic: consumers deduplicate on it. Topic names are configurable "
                "(KAFKA_TOPIC_ORDERS, KAFKA_TOPIC_DLQ); the addresses below are the defaults. "
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
                "description": "OrderImported and OrderStatusChanged, keyed by checkout form id.",
                "messages": {
                    "orderImported": {"$ref": "#/components/messages/OrderImported"},
                    "orderStatusChanged": {"$ref": "#/components/messages/OrderStatusChanged"},
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
        },
        "operations": {
            "publishOrderEvents": {
                "action": "send",
                "summary": "Published once Kafka acknowledges (acks=all), before the cursor moves.",
                "channel": {"$ref": "#/channels/orders"},
                "messages": [
                    {"$ref": "#/channels/orders/messages/orderImported"},
                    {"$ref": "#/channels/orders/messages/orderStatusChanged"},
                ],
            },
            "publishDeadLetters": {
                "action": "send",
                "channel": {"$ref": "#/channels/deadLetters"},
                "messages": [{"$ref": "#/channels/deadLetters/messages/orderDeadLettered"}],
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
            },
            "schemas": {
                "OrderImportedHeaders": _headers_schema(
                    CE_TYPE_ORDER_IMPORTED, "Checkout form id (= `external_id`)."
                ),
                "OrderStatusChangedHeaders": _headers_schema(
                    CE_TYPE_ORDER_STATUS_CHANGED, "Checkout form id (= `external_id`)."
                ),
                "OrderDeadLetteredHeaders": _headers_schema(
                    CE_TYPE_ORDER_DEAD_LETTERED, "Checkout form id (= `checkout_form_id`)."
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
