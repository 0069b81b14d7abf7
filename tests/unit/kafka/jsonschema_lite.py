"""A tiny JSON Schema validator: just the keywords our generated draft-07 schemas use."""

from __future__ import annotations

import re
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "integer": (int,),
    "number": (int, float),
}
SUPPORTED = frozenset(
    {
        "$schema", "$id", "$ref", "title", "description", "definitions", "type", "properties",
        "required", "additionalProperties", "items", "anyOf", "enum", "const", "pattern",
        "format", "minimum", "examples",
    }
)  # fmt: skip


def validate(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation found, as `path: problem`; empty when `instance` is valid."""
    return _check(instance, schema, schema, "$")


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    assert ref.startswith("#/"), f"only local references are supported: {ref}"
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:
    unknown = set(schema) - SUPPORTED
    assert not unknown, f"{path}: unsupported keywords {sorted(unknown)}"
    if "$ref" in schema:
        return _check(value, _resolve(schema["$ref"], root), root, path)
    if "anyOf" in schema:
        if any(not _check(value, option, root, path) for option in schema["anyOf"]):
            return []
        return [f"{path}: matches no alternative of anyOf"]
    errors: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_is_type(value, name) for name in names):
            return [f"{path}: expected {expected}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if "minimum" in schema and isinstance(value, int | float) and value < schema["minimum"]:
        errors.append(f"{path}: {value!r} is below {schema['minimum']}")
    if isinstance(value, dict):
        errors.extend(_check_object(value, schema, root, path))
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors.extend(_check(item, schema["items"], root, f"{path}[{index}]"))
    return errors


def _check_object(
    value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str
) -> list[str]:
    required = schema.get("required", ())
    errors = [f"{path}: missing {name!r}" for name in required if name not in value]
    properties = schema.get("properties", {})
    for name, item in value.items():
        if name in properties:
            errors.extend(_check(item, properties[name], root, f"{path}.{name}"))
        elif schema.get("additionalProperties") is False:
            errors.append(f"{path}: unexpected property {name!r}")
    return errors
