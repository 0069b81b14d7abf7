"""The two variants of a message schema tools/contracts.py makes: open (published, for
consumers) and strict (our producer-side tests)."""

from __future__ import annotations

import copy
from typing import Any

from tools import contracts

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "kept": {"type": "string"},
        "optional": {"anyOf": [{"$ref": "#/definitions/Inner"}, {"type": "null"}], "default": None},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["kept"],
    "additionalProperties": False,
    "definitions": {
        "Inner": {
            "type": "object",
            # a property named "properties" is a schema, not the keyword
            "properties": {"properties": {"type": "string"}, "note": {"type": "string"}},
            "required": [],
            "additionalProperties": False,
        }
    },
}


def test_the_published_variant_opens_every_object_and_keeps_what_is_required() -> None:
    original = copy.deepcopy(SCHEMA)

    opened = contracts.open_objects(SCHEMA)

    assert original == SCHEMA  # a copy: the input is left as it was
    assert opened["additionalProperties"] is True
    assert opened["required"] == ["kept"]
    inner = opened["definitions"]["Inner"]
    assert (inner["additionalProperties"], inner["required"]) == (True, [])
    assert inner["properties"]["properties"] == {"type": "string"}
    # a map's value schema is what its values must be, not a closed object: left alone
    assert opened["properties"]["labels"]["additionalProperties"] == {"type": "string"}


def test_the_strict_variant_closes_every_object_and_requires_every_declared_property() -> None:
    original = copy.deepcopy(SCHEMA)

    strict = contracts.strict_schema(SCHEMA)

    assert original == SCHEMA
    assert strict["additionalProperties"] is False
    assert strict["required"] == ["kept", "optional", "labels"]
    inner = strict["definitions"]["Inner"]
    assert (inner["additionalProperties"], inner["required"]) == (False, ["properties", "note"])
    assert inner["properties"]["properties"] == {"type": "string"}
    assert strict["properties"]["labels"]["additionalProperties"] == {"type": "string"}
