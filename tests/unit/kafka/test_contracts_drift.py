"""The checked-in `contracts/` match the message models, and messages match their schemas."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator, ValidationError
from jsonschema.validators import validator_for

from adapters.kafka.examples import (
    example_dead_letter,
    example_order_imported,
    example_order_status_changed,
    example_order_updated,
)
from adapters.kafka.messages import KafkaRecord, encode_dead_letter, encode_event
from domain.order import LineItemTax
from tests.support.builders import (
    make_buyer,
    make_dead_letter,
    make_line_item,
    make_order_imported,
    make_order_status_changed,
    make_payment,
)
from tests.unit.kafka.builders import make_order_updated
from tools import contracts

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"

# Draft-07 (what the payload schemas declare, and the dialect AsyncAPI 3.0 reads) names no
# "uuid" format, so `Draft7Validator.FORMAT_CHECKER` would let a malformed `event_id` through;
# the 2020-12 checker checks every format our schemas use (a test below keeps that true).
FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER


def schema(file_name: str) -> dict[str, Any]:
    return json.loads((CONTRACTS_DIR / file_name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def validate(instance: Any, document: dict[str, Any]) -> list[str]:
    """Every violation, as `path: message` (alternatives of anyOf included); empty when valid.

    The validator is the one for the draft `document` declares (`$schema`), formats checked.
    """
    validator_class = validator_for(document)
    validator_class.check_schema(document)
    validator = validator_class(document, format_checker=FORMAT_CHECKER)
    return [f"{e.json_path}: {e.message}" for e in _flatten(validator.iter_errors(instance))]


def _flatten(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    for error in errors:
        yield error
        yield from _flatten(error.context or ())


def _formats(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["format"]} if isinstance(node.get("format"), str) else set()
        return found.union(*(_formats(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_formats(value) for value in node))
    return set()


def test_checked_in_contracts_match_the_message_models() -> None:
    stale = contracts.stale_files(CONTRACTS_DIR)

    assert not stale, (
        f"contracts/ is out of date ({', '.join(stale)}): run "
        f"`{contracts.REGENERATE_COMMAND}` from the repository root and commit the result"
    )


def test_check_mode_fails_on_a_stale_file_and_regeneration_fixes_it(tmp_path: Path) -> None:
    assert contracts.main(["--dir", str(tmp_path)]) == 0
    assert contracts.main(["--check", "--dir", str(tmp_path)]) == 0
    schema_file = tmp_path / contracts.ORDER_IMPORTED_SCHEMA
    schema_file.write_text(schema_file.read_text().replace('"notes"', '"note"'))

    assert contracts.main(["--check", "--dir", str(tmp_path)]) == 1
    assert contracts.main(["--dir", str(tmp_path)]) == 0
    assert contracts.main(["--check", "--dir", str(tmp_path)]) == 0
    asyncapi_file = tmp_path / contracts.ASYNCAPI_FILE
    asyncapi_file.write_text(asyncapi_file.read_text().replace("openoms.orders.v1", "orders"))

    assert contracts.stale_files(tmp_path) == [contracts.ASYNCAPI_FILE]
    assert contracts.main(["--dir", str(tmp_path)]) == 0
    assert contracts.stale_files(tmp_path) == []


# Every optional part present, the added ones included: a nested object no value holds
# would escape the checks below.
EVERY_PART: dict[str, Any] = {
    "fulfillment_provider": "ALLEGRO",
    "dispatch_by": datetime(2026, 3, 15, 22, 59, 59, tzinfo=UTC),
    "total_to_pay": Decimal("93.47"),
    "surcharges": (make_payment(id="7e2b9c14-ea31-11f1-9d3a-02fc00000009"),),
    "payment_id": "16a02f51-ea25-11f1-9c2e-02fc00000002",
    "payment_provider": "P24",
    "buyer_id": "5968875",
    "line_items_sent": "NONE",
    "line_items": (make_line_item(tax=LineItemTax(rate="23.00", subject="GOODS", exemption=None)),),
}

ORDER_IMPORTED_CASES = {
    "example": lambda: encode_event(example_order_imported()),
    "builder": lambda: encode_event(make_order_imported()),
    "every part": lambda: encode_event(make_order_imported(**EVERY_PART)),
    "guest without invoice": lambda: encode_event(
        make_order_imported(
            buyer=make_buyer(guest=True, first_name=None, last_name=None, company_name=None),
            invoice=None,
            invoice_requested=False,
            shipping_address=None,
            pickup_point=None,
            delivery_cost=None,
            paid_at=None,
        )
    ),
}
SCHEMA_CASES: list[tuple[str, str, Any]] = [
    *((contracts.ORDER_IMPORTED_SCHEMA, name, make) for name, make in ORDER_IMPORTED_CASES.items()),
    (
        contracts.ORDER_STATUS_CHANGED_SCHEMA,
        "example",
        lambda: encode_event(example_order_status_changed()),
    ),
    (
        contracts.ORDER_STATUS_CHANGED_SCHEMA,
        "builder",
        lambda: encode_event(make_order_status_changed()),
    ),
    (contracts.ORDER_UPDATED_SCHEMA, "example", lambda: encode_event(example_order_updated())),
    (contracts.ORDER_UPDATED_SCHEMA, "builder", lambda: encode_event(make_order_updated())),
    (
        contracts.ORDER_UPDATED_SCHEMA,
        "every part",
        lambda: encode_event(make_order_updated(**EVERY_PART)),
    ),
    (contracts.DEAD_LETTER_SCHEMA, "example", lambda: encode_dead_letter(example_dead_letter())),
    (contracts.DEAD_LETTER_SCHEMA, "builder", lambda: encode_dead_letter(make_dead_letter())),
]


@pytest.mark.parametrize(
    ("file_name", "make"),
    [(f, m) for f, _, m in SCHEMA_CASES],
    ids=[f"{f}-{n}" for f, n, _ in SCHEMA_CASES],
)
def test_serialized_messages_validate_against_their_schema(file_name: str, make: Any) -> None:
    record: KafkaRecord = make()
    value = json.loads(record.value)

    assert validate(value, schema(file_name)) == []
    # exactly the declared fields, at every level: the published schema alone would let an
    # undeclared field through (it is open to fields added later)
    assert validate(value, contracts.strict_schema(schema(file_name))) == []


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda v: v.update(total_amount=80.97), "80.97 is not of type 'string'"),
        (lambda v: v.update(total_amount="80,97"), "'80,97' does not match"),
        (lambda v: v.update(occurred_at="2026-03-14T10:15:21+01:00"), "does not match"),
        (lambda v: v.update(order_status="lost"), "'lost' is not one of"),
        (lambda v: v.pop("notes"), "'notes' is a required property"),
        (lambda v: v["line_items"][0].update(quantity="2"), "'2' is not of type 'integer'"),
        (lambda v: v["buyer"].pop("guest"), "'guest' is a required property"),
        # formats are checked, not only patterns: these two match every pattern in the schema
        (lambda v: v.update(occurred_at="2026-02-30T10:15:21Z"), "is not a 'date-time'"),
        (lambda v: v.update(event_id="not-a-uuid"), "'not-a-uuid' is not a 'uuid'"),
    ],
)
def test_the_schema_rejects_what_the_contract_forbids(mutate: Any, problem: str) -> None:
    value = json.loads(encode_event(make_order_imported()).value)
    mutate(value)

    errors = validate(value, schema(contracts.ORDER_IMPORTED_SCHEMA))

    assert any(problem in error for error in errors), errors


UNKNOWN_FIELD_PLACES: dict[str, Any] = {
    "message": lambda v: v,
    "buyer": lambda v: v["buyer"],
    "shipping_address": lambda v: v["shipping_address"],
    "line item": lambda v: v["line_items"][0],
    "invoice": lambda v: v["invoice"],
    "invoice tax id": lambda v: v["invoice"]["tax_ids"][0],
    "invoice address": lambda v: v["invoice"]["address"],
    "pickup point": lambda v: v["pickup_point"],
    "delivery method": lambda v: v["delivery_method"],
    "line item tax": lambda v: v["line_items"][0]["tax"],
    "surcharge": lambda v: v["surcharges"][0],
}


@pytest.mark.parametrize("place", list(UNKNOWN_FIELD_PLACES))
def test_the_published_schema_accepts_a_field_added_later_at_any_level(place: str) -> None:
    """Consumers validate against the published schema: a field a later v1 release adds must
    not make them reject the record (contracts/COMPATIBILITY.md)."""
    value = json.loads(encode_event(make_order_imported(**EVERY_PART)).value)
    UNKNOWN_FIELD_PLACES[place](value)["added_later"] = {"any": ["shape"]}
    document = schema(contracts.ORDER_IMPORTED_SCHEMA)

    assert validate(value, document) == []
    assert "('added_later' was unexpected)" in " ".join(
        validate(value, contracts.strict_schema(document))
    )


@pytest.mark.parametrize("place", list(UNKNOWN_FIELD_PLACES))
def test_the_strict_schema_requires_every_declared_field_at_any_level(place: str) -> None:
    """Our producer emits every declared field, null when unknown: a field missing from what
    we emit fails our tests even where the published schema would not require it."""
    value = json.loads(encode_event(make_order_imported(**EVERY_PART)).value)
    node = UNKNOWN_FIELD_PLACES[place](value)
    dropped = next(iter(node))
    del node[dropped]

    errors = validate(value, contracts.strict_schema(schema(contracts.ORDER_IMPORTED_SCHEMA)))

    assert f"{dropped!r} is a required property" in " ".join(errors), errors


@pytest.mark.parametrize("file_name", list(contracts.SCHEMA_MODELS))
def test_every_object_of_a_published_schema_is_open(file_name: str) -> None:
    document = schema(file_name)
    objects = list(_objects(document))

    assert objects
    assert [o.get("additionalProperties") for o in objects] == [True] * len(objects)
    assert document["$comment"] == contracts.COMPATIBILITY_NOTE


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every object schema with declared properties in `node`."""
    if isinstance(node, dict):
        if node.get("type") == "object" and isinstance(node.get("properties"), dict):
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def test_asyncapi_examples_are_the_encoded_examples() -> None:
    document = contracts.asyncapi_document()
    messages = document["components"]["messages"]

    example = messages["OrderImported"]["examples"][0]
    record = encode_event(example_order_imported())
    assert example["payload"] == json.loads(record.value)
    assert example["headers"]["ce_type"] == "openoms.order.imported.v1"
    assert messages["OrderStatusChanged"]["payload"] == {
        "$ref": "./order-status-changed.v1.schema.json"
    }
    assert document["channels"]["orders"]["address"] == "openoms.orders.v1"
    assert document["channels"]["deadLetters"]["address"] == "openoms.orders.dlq.v1"


def test_asyncapi_example_headers_validate_against_the_header_schemas() -> None:
    document = contracts.asyncapi_document()
    schemas = document["components"]["schemas"]

    for name, message in document["components"]["messages"].items():
        headers_schema = schemas[f"{name}Headers"]
        assert validate(message["examples"][0]["headers"], headers_schema) == [], name


def test_an_example_message_with_a_malformed_time_or_id_fails_validation() -> None:
    """Format checking bites on the documented examples, not only on built messages."""
    cases = (("occurred_at", "2026-03-14T25:61:00Z", "date-time"), ("event_id", "1234", "uuid"))
    for field, bad, format_name in cases:
        value = json.loads(encode_event(example_order_imported()).value)
        value[field] = bad

        errors = validate(value, schema(contracts.ORDER_IMPORTED_SCHEMA))

        assert errors == [f"$.{field}: {bad!r} is not a {format_name!r}"], errors


def test_every_format_the_contracts_use_is_checked() -> None:
    used = set().union(*(_formats(schema(name)) for name in contracts.SCHEMA_MODELS))
    used |= _formats(contracts.asyncapi_document()["components"]["schemas"])

    assert used, "the schemas declare no format: this test no longer guards anything"
    assert used <= set(FORMAT_CHECKER.checkers), sorted(used - set(FORMAT_CHECKER.checkers))
    assert "uuid" not in Draft7Validator.FORMAT_CHECKER.checkers  # why FORMAT_CHECKER is 2020-12


def _key_orders(node: Any) -> list[list[str]]:
    """The key order of every mapping in `node`, depth first."""
    if isinstance(node, dict):
        nested = [order for value in node.values() for order in _key_orders(value)]
        return [list(node), *nested]
    if isinstance(node, list):
        return [order for value in node for order in _key_orders(value)]
    return []


def test_the_asyncapi_file_reads_back_as_the_document_in_the_same_key_order() -> None:
    document = contracts.asyncapi_document()
    text = (CONTRACTS_DIR / contracts.ASYNCAPI_FILE).read_text(encoding="utf-8")

    loaded = yaml.safe_load(text)

    assert loaded == document
    assert _key_orders(loaded) == _key_orders(document)  # no sorting: diffs stay local


def test_yaml_rendering_keeps_strings_that_look_like_other_types() -> None:
    data = {"asyncapi": "3.0.0", "const": "1.0", "on": "yes", "empty": "", "none": "null"}

    assert yaml.safe_load(contracts.to_yaml(data)) == data


def test_asyncapi_documents_order_updated_on_the_orders_channel() -> None:
    document = contracts.asyncapi_document()
    message = document["components"]["messages"]["OrderUpdated"]

    assert message["payload"] == {"$ref": "./order-updated.v1.schema.json"}
    assert message["examples"][0]["payload"] == json.loads(
        encode_event(example_order_updated()).value
    )
    assert message["examples"][0]["headers"]["ce_type"] == "openoms.order.updated.v1"
    reference = {"$ref": "#/channels/orders/messages/orderUpdated"}
    assert reference in document["operations"]["publishOrderEvents"]["messages"]
    assert document["channels"]["orders"]["messages"]["orderUpdated"] == {
        "$ref": "#/components/messages/OrderUpdated"
    }
