"""The compatibility check itself (tools/schema_compat.py): each breaking mutation of a
released schema is reported, each widening passes.

The base is the released OrderImported v1 schema (contracts/released/), so the mutations run
on the real shapes: `$ref`s into `definitions`, nullable fields as `anyOf`, enums, nested line
items. The expected reports are written out by hand.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.schema_compat import breaking_changes

RELEASED = Path(__file__).resolve().parents[3] / "contracts" / "released"
Mutation = Callable[[dict[str, Any]], object]


def released_order_imported() -> dict[str, Any]:
    text = (RELEASED / "order-imported.v1.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def mutated(mutation: Mutation) -> dict[str, Any]:
    schema = copy.deepcopy(released_order_imported())
    mutation(schema)
    return schema


def _rename_notes(schema: dict[str, Any]) -> None:
    schema["properties"]["note"] = schema["properties"].pop("notes")
    schema["required"] = [("note" if name == "notes" else name) for name in schema["required"]]


def _add_optional(schema: dict[str, Any]) -> None:
    schema["properties"]["fulfillment_provider"] = {"enum": ["SELLER", "ALLEGRO"], "type": "string"}
    line_item = schema["definitions"]["LineItem"]
    line_item["properties"]["tax"] = {"anyOf": [{"type": "object"}, {"type": "null"}]}


def _line_item(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["definitions"]["LineItem"]  # type: ignore[no-any-return]


BREAKING: dict[str, tuple[Mutation, list[str]]] = {
    "removed field": (
        lambda s: (s["properties"].pop("notes"), s["required"].remove("notes")),
        ["$.notes: property removed"],
    ),
    "renamed field": (
        _rename_notes,
        ["$.notes: property removed (renamed? new here: note)", "$.note: new required field"],
    ),
    "nullable type narrowed": (
        lambda s: s["properties"].update(marketplace={"type": "string"}),
        ["$.marketplace: type narrowed, no longer accepts null"],
    ),
    "enum value removed": (
        lambda s: s["definitions"]["OrderStatus"]["enum"].remove("on_hold"),
        ["$.order_status: enum values removed: ['on_hold']"],
    ),
    "new required field": (
        lambda s: (
            s["properties"].update(buyer_id={"type": "string"}),
            s["required"].append("buyer_id"),
        ),
        ["$.buyer_id: new required field"],
    ),
    "nested removal inside line items": (
        lambda s: (_line_item(s)["properties"].pop("sku"), _line_item(s)["required"].remove("sku")),
        ["$.line_items[].sku: property removed"],
    ),
    "nested nullable narrowed inside line items": (
        lambda s: _line_item(s)["properties"].update(original_unit_price={"type": "string"}),
        ["$.line_items[].original_unit_price: type narrowed, no longer accepts null"],
    ),
    "required field made optional": (
        lambda s: s["required"].remove("customer_phone"),
        ["$.customer_phone: no longer required (consumers rely on it)"],
    ),
    "format added": (
        lambda s: s["properties"]["customer_email"].update(format="email"),
        ["$.customer_email: format added or changed to 'email'"],
    ),
    "format changed inside a nullable": (
        lambda s: s["properties"]["paid_at"]["anyOf"][0].update(format="date"),
        ["$.paid_at: format added or changed to 'date'"],
    ),
    "pattern changed": (
        lambda s: s["properties"]["currency"].update(pattern="^PLN$"),
        ["$.currency: pattern added or changed to '^PLN$'"],
    ),
    "maxLength added": (
        lambda s: s["properties"]["account"].update(maxLength=64),
        ["$.account: maxLength 64 added"],
    ),
    "minimum raised": (
        lambda s: _line_item(s)["properties"]["quantity"].update(minimum=1),
        ["$.line_items[].quantity: minimum raised from 0 to 1"],
    ),
    "string field turned integer": (
        lambda s: s["properties"].update(total_amount={"type": "integer"}),
        ["$.total_amount: type narrowed, no longer accepts string"],
    ),
    "array items narrowed": (
        lambda s: s["properties"]["line_items"].update(items={"type": "string"}),
        ["$.line_items[]: type narrowed, no longer accepts object"],
    ),
    "unchecked keyword added": (
        lambda s: s["properties"]["notes"].update({"not": {"const": ""}}),
        ["$.notes: not added or changed (not checked by tools/schema_compat.py: review)"],
    ),
}


@pytest.mark.parametrize("case", list(BREAKING))
def test_a_breaking_change_is_reported(case: str) -> None:
    mutation, expected = BREAKING[case]

    assert breaking_changes(released_order_imported(), mutated(mutation)) == expected


WIDENING: dict[str, Mutation] = {
    "nothing changed": lambda s: None,
    "added optional fields, at the top and inside line items": _add_optional,
    "type widened to nullable": lambda s: s["properties"]["currency"].update(
        type=["string", "null"]
    ),
    "type widened by anyOf": lambda s: s["properties"].update(
        external_id={"anyOf": [{"type": "string"}, {"type": "integer"}]}
    ),
    "integer widened to number": lambda s: _line_item(s)["properties"]["quantity"].update(
        type="number"
    ),
    "enum value added": lambda s: s["definitions"]["OrderStatus"]["enum"].append("archived"),
    "bound relaxed": lambda s: _line_item(s)["properties"]["quantity"].pop("minimum"),
    "pattern dropped": lambda s: s["properties"]["currency"].pop("pattern"),
    "objects opened to added fields": lambda s: [
        node.update(additionalProperties=True)
        for node in (s, *s["definitions"].values())
        if "additionalProperties" in node
    ],
    "annotations reworded": lambda s: s["properties"]["account"].update(
        description="Another wording.", title="Seller account"
    ),
    "definition renamed, same shape": lambda s: (
        s["definitions"].update(Customer=s["definitions"].pop("Buyer")),
        s["properties"].update(buyer={"$ref": "#/definitions/Customer"}),
    ),
    "definition inlined": lambda s: s["properties"].update(
        buyer=copy.deepcopy(s["definitions"]["Buyer"])
    ),
}


@pytest.mark.parametrize("case", list(WIDENING))
def test_a_compatible_change_passes(case: str) -> None:
    assert breaking_changes(released_order_imported(), mutated(WIDENING[case])) == []


def test_the_check_has_a_direction_what_widens_one_way_narrows_the_other() -> None:
    released = released_order_imported()
    widened = mutated(_add_optional)
    widened["definitions"]["OrderStatus"]["enum"].append("archived")

    assert breaking_changes(released, widened) == []
    assert breaking_changes(widened, released) == [  # in the order of the properties
        "$.line_items[].tax: property removed",
        "$.order_status: enum values removed: ['archived']",
        "$.fulfillment_provider: property removed",
    ]


def test_a_type_list_and_an_anyof_of_the_same_types_are_the_same_type() -> None:
    as_list = {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}
    as_any_of = {
        "type": "object",
        "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    }

    assert breaking_changes(as_list, as_any_of) == []
    assert breaking_changes(as_any_of, as_list) == []
    assert breaking_changes(as_list, {**as_list, "properties": {"a": {"type": "string"}}}) == [
        "$.a: type narrowed, no longer accepts null"
    ]


def test_a_removal_inside_a_recursive_definition_is_found_and_the_walk_ends() -> None:
    def tree(*fields: str) -> dict[str, Any]:
        node = {
            "type": "object",
            "properties": {
                **{name: {"type": "string"} for name in fields},
                "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}},
                "parent": {"anyOf": [{"$ref": "#/definitions/Node"}, {"type": "null"}]},
            },
        }
        return {"$ref": "#/definitions/Node", "definitions": {"Node": node}}

    assert breaking_changes(tree("id", "label"), tree("id", "label")) == []
    assert breaking_changes(tree("id", "label"), tree("id")) == ["$.label: property removed"]


def test_an_optional_field_made_required_and_a_number_made_integer_are_reported() -> None:
    properties = {"a": {"type": "string"}, "n": {"type": "number"}}
    released = {"type": "object", "properties": properties, "required": []}
    current = {
        "type": "object",
        "properties": {**properties, "n": {"type": "integer"}},
        "required": ["a"],
    }

    assert breaking_changes(released, current) == [
        "$.n: type narrowed, no longer accepts number",
        "$.a: optional field now required",
    ]


def test_a_released_open_object_closed_is_reported() -> None:
    released = {"type": "object", "properties": {"a": {"type": "string"}}}
    closed = {**released, "additionalProperties": False}

    assert breaking_changes(released, closed) == ["$: additionalProperties closed"]
    assert breaking_changes(closed, released) == []


def test_an_unresolvable_or_remote_ref_is_an_error_not_a_pass() -> None:
    released = {"type": "object", "properties": {"a": {"type": "string"}}}

    with pytest.raises(ValueError, match="unresolvable"):
        breaking_changes(released, {"properties": {"a": {"$ref": "#/definitions/Missing"}}})
    with pytest.raises(ValueError, match="only local"):
        breaking_changes(released, {"properties": {"a": {"$ref": "other.json#/A"}}})


def test_a_constraint_narrows_only_the_type_it_applies_to() -> None:
    released = {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}

    def with_a(**constraints: object) -> dict[str, Any]:
        return {**released, "properties": {"a": {"type": ["string", "null"], **constraints}}}

    assert breaking_changes(released, with_a(minimum=5, maxItems=1)) == []
    assert breaking_changes(released, with_a(maxLength=5)) == ["$.a: maxLength 5 added"]
