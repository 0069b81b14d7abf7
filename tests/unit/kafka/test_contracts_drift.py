"""The checked-in `contracts/` match the message models, and messages match their schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka import contracts
from adapters.kafka.examples import (
    example_dead_letter,
    example_order_imported,
    example_order_status_changed,
)
from adapters.kafka.messages import KafkaRecord, encode_dead_letter, encode_event
from tests.support.builders import (
    make_buyer,
    make_dead_letter,
    make_order_imported,
    make_order_status_changed,
)
from tests.unit.kafka.jsonschema_lite import validate

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"


def schema(file_name: str) -> dict[str, Any]:
    return json.loads((CONTRACTS_DIR / file_name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_checked_in_contracts_match_the_message_models() -> None:
    stale = contracts.stale_files(CONTRACTS_DIR)

    assert not stale, (
        f"contracts/ is out of date ({', '.join(stale)}): run "
        f"`python -m adapters.kafka.contracts` from the repository root and commit the result"
    )


def test_check_mode_fails_on_a_stale_file_and_regeneration_fixes_it(tmp_path: Path) -> None:
    assert contracts.main(["--dir", str(tmp_path)]) == 0
    assert contracts.main(["--check", "--dir", str(tmp_path)]) == 0
    schema_file = tmp_path / contracts.ORDER_IMPORTED_SCHEMA
    schema_file.write_text(schema_file.read_text().replace('"notes"', '"note"'))

    assert contracts.main(["--check", "--dir", str(tmp_path)]) == 1
    assert contracts.main(["--dir", str(tmp_path)]) == 0
    assert contracts.main(["--check", "--dir", str(tmp_path)]) == 0


ORDER_IMPORTED_CASES = {
    "example": lambda: encode_event(example_order_imported()),
    "builder": lambda: encode_event(make_order_imported()),
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

    assert validate(json.loads(record.value), schema(file_name)) == []


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda v: v.update(total_amount=80.97), "expected string"),
        (lambda v: v.update(total_amount="80,97"), "does not match"),
        (lambda v: v.update(occurred_at="2026-03-14T10:15:21+01:00"), "does not match"),
        (lambda v: v.update(order_status="lost"), "not in"),
        (lambda v: v.pop("notes"), "missing 'notes'"),
        (lambda v: v.update(notez="x"), "unexpected property 'notez'"),
        (lambda v: v["line_items"][0].update(quantity="2"), "expected integer"),
        (lambda v: v["buyer"].pop("guest"), "missing 'guest'"),
    ],
)
def test_the_schema_rejects_what_the_contract_forbids(mutate: Any, problem: str) -> None:
    value = json.loads(encode_event(make_order_imported()).value)
    mutate(value)

    errors = validate(value, schema(contracts.ORDER_IMPORTED_SCHEMA))

    assert any(problem in error for error in errors), errors


def test_every_field_is_always_present() -> None:
    for file_name in contracts.SCHEMA_MODELS:
        document = schema(file_name)
        assert document["required"] == list(document["properties"]), file_name


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


def test_yaml_rendering_quotes_strings_and_nests_blocks() -> None:
    data = {
        "asyncapi": "3.0.0",
        "on": True,
        "$ref": "#/x",
        "list": [{"a": 1, "b": [None, "two"]}, "three", []],
        "empty": {},
    }

    assert contracts.to_yaml(data) == (
        'asyncapi: "3.0.0"\n'
        '"on": true\n'
        '"$ref": "#/x"\n'
        "list:\n"
        "  - a: 1\n"
        "    b:\n"
        "      - null\n"
        '      - "two"\n'
        '  - "three"\n'
        "  - []\n"
        "empty: {}\n"
    )
