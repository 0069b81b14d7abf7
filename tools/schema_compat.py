"""Is a JSON Schema a compatible evolution of a released one? (contracts/COMPATIBILITY.md)

`breaking_changes(released, current)` lists, as `path: what`, every change that can break a
consumer within one version of a message:

- a property removed (a rename is a removal plus an addition, and is reported as one);
- a type narrowed: a JSON type no longer accepted (`["string", "null"]` -> `"string"`), an
  `enum`/`const` value removed or a value set newly imposed, a `format` or `pattern` added or
  changed, `maxLength`/`maximum`/`maxItems` lowered, `minLength`/`minimum`/`minItems` raised,
  `additionalProperties` closed;
- a new required field, or a field that was required and no longer is (consumers rely on it
  being there);
- a keyword this module does not reason about (`not`, `if`, `patternProperties`...) added or
  changed: it is reported so that a person looks at it, never let through silently.

It walks objects (`properties`, `additionalProperties`) and arrays (`items`) recursively and
follows local `$ref`s (`#/definitions/...`, `#/$defs/...`); `anyOf`/`oneOf` alternatives are
matched by JSON type. Widening passes: a new optional property, a type that also admits
`null`, an enum value added, a bound relaxed, `additionalProperties: false` opened. Annotations
(`title`, `description`, `default`, `examples`, `$comment`) are ignored.

The direction checked is the one a consumer needs from the topic: every value the released
schema accepts, which may already sit on the topic, is still described the same way by the
current one. (A property added where the released schema allowed any additional property is
not reported: the producer never sent undeclared fields, so no record on the topic conflicts.)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

Schema = Mapping[str, Any] | bool

# A JSON value of type "integer" is also a "number": a "number" alternative accepts it.
ALL_TYPES = ("null", "boolean", "object", "array", "number", "string")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_EXACT = ("format", "pattern")
# The JSON type each constraint applies to: a node listing several types (`["string", "null"]`)
# constrains only the values of that type with it.
_APPLIES_TO = {
    **dict.fromkeys(("maxLength", "minLength", "format", "pattern"), "string"),
    **dict.fromkeys(("maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"), "number"),
    "multipleOf": "number",
    **dict.fromkeys(("maxItems", "minItems"), "array"),
    **dict.fromkeys(("maxProperties", "minProperties"), "object"),
}
# Keywords whose effect this module does not work out: any addition or change is reported.
_UNCHECKED = (
    "not",
    "if",
    "then",
    "else",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
    "propertyNames",
    "contains",
    "minContains",
    "maxContains",
    "prefixItems",
    "additionalItems",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contentEncoding",
    "contentMediaType",
)
_MAX_REF_HOPS = 64


def breaking_changes(released: Schema, current: Schema) -> list[str]:
    """Every incompatible change from `released` to `current`, as `path: what`; empty when
    `current` is a compatible evolution. Paths: `$` the message, `.name` a property, `[]` the
    items of an array, `.*` additional properties."""
    problems = _Comparison(released, current).compare(released, current, "$")
    return list(dict.fromkeys(problems))  # a node listing several types reports once


class _Alternative:
    """One way a value of one JSON type can be valid: the node, `$ref`s resolved, and the
    last `$ref` followed to reach it (what recognises a recursive definition)."""

    __slots__ = ("node", "via")

    def __init__(self, node: Mapping[str, Any], via: str | None) -> None:
        self.node = node
        self.via = via


class _Comparison:
    def __init__(self, released: Schema, current: Schema) -> None:
        self._roots = (released, current)
        # (released via, current via, type) pairs being compared further up: a recursive
        # definition is assumed compatible on the way back in (what the rest of it finds holds).
        self._active: set[tuple[str | None, str | None, str]] = set()

    def compare(self, old: Schema, new: Schema, path: str) -> list[str]:
        if new is True or new == {} or old is False:
            return []  # nothing is refused now, or nothing was accepted before
        old_types = _by_type(old, self._roots[0], None)
        new_types = _by_type(new, self._roots[1], None)
        problems: list[str] = []
        lost = []
        for json_type, old_alternatives in old_types.items():
            candidates = list(new_types.get(json_type, ()))
            if json_type == "integer":
                candidates += new_types.get("number", ())
            if not candidates:
                lost.append(json_type)
                continue
            for old_alternative in old_alternatives:
                problems += self._best_match(old_alternative, candidates, json_type, path)
        if lost:
            problems.insert(0, f"{path}: type narrowed, no longer accepts {', '.join(lost)}")
        return problems

    def _best_match(
        self, old: _Alternative, candidates: Sequence[_Alternative], json_type: str, path: str
    ) -> list[str]:
        """No problem when some current alternative takes every value `old` took; else the
        problems of the closest one."""
        best: list[str] | None = None
        for new in candidates:
            found = self._compare_alternative(old, new, json_type, path)
            if not found:
                return []
            if best is None or len(found) < len(best):
                best = found
        return best or []

    def _compare_alternative(
        self, old: _Alternative, new: _Alternative, json_type: str, path: str
    ) -> list[str]:
        key = (old.via, new.via, json_type)
        if (old.via is not None or new.via is not None) and key in self._active:
            return []
        self._active.add(key)
        try:
            return self._compare_constraints(old.node, new.node, json_type, path)
        finally:
            self._active.discard(key)

    def _compare_constraints(
        self, old: Mapping[str, Any], new: Mapping[str, Any], json_type: str, path: str
    ) -> list[str]:
        problems = _value_set_changes(old, new, json_type, path)
        problems += _bound_changes(old, new, json_type, path)
        if json_type == "object":
            problems += self._object_changes(old, new, path)
        elif json_type == "array":
            problems += self.compare(old.get("items", True), new.get("items", True), f"{path}[]")
            if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
                problems.append(f"{path}: uniqueItems added")
        problems += [
            f"{path}: {keyword} added or changed (not checked by tools/schema_compat.py: review)"
            for keyword in _UNCHECKED
            if keyword in new and new.get(keyword) != old.get(keyword)
        ]
        return problems

    def _object_changes(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[str]:
        problems: list[str] = []
        old_properties: Mapping[str, Schema] = old.get("properties", {})
        new_properties: Mapping[str, Schema] = new.get("properties", {})
        added = [name for name in new_properties if name not in old_properties]
        for name, old_property in old_properties.items():
            if name in new_properties:
                problems += self.compare(old_property, new_properties[name], f"{path}.{name}")
            else:
                renamed = f" (renamed? new here: {', '.join(added)})" if added else ""
                problems.append(f"{path}.{name}: property removed{renamed}")
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        for name in new.get("required", ()):
            if name not in old_required:
                was = (
                    "optional field now required"
                    if name in old_properties
                    else "new required field"
                )
                problems.append(f"{path}.{name}: {was}")
        for name in old.get("required", ()):
            if name not in new_required and name in new_properties:
                problems.append(f"{path}.{name}: no longer required (consumers rely on it)")
        old_additional: Schema = old.get("additionalProperties", True)
        new_additional: Schema = new.get("additionalProperties", True)
        if new_additional is False and old_additional is not False:
            problems.append(f"{path}: additionalProperties closed")
        elif old_additional is not False:
            problems += self.compare(old_additional, new_additional, f"{path}.*")
        return problems


def _value_set_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], json_type: str, path: str
) -> list[str]:
    old_values = _allowed_values(old, json_type)
    new_values = _allowed_values(new, json_type)
    if new_values is None:
        return []
    if old_values is None:
        return [f"{path}: now limited to the values {new_values!r}"]
    removed = [value for value in old_values if value not in new_values]
    return [f"{path}: enum values removed: {removed!r}"] if removed else []


def _bound_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], json_type: str, path: str
) -> list[str]:
    kind = "number" if json_type == "integer" else json_type
    old = {key: value for key, value in old.items() if _APPLIES_TO.get(key) == kind}
    new = {key: value for key, value in new.items() if _APPLIES_TO.get(key) == kind}
    problems = []
    for keyword in (*_UPPER_BOUNDS, *_LOWER_BOUNDS):
        if keyword not in new:
            continue
        if keyword not in old:
            problems.append(f"{path}: {keyword} {new[keyword]} added")
        elif keyword in _UPPER_BOUNDS and _below(new[keyword], old[keyword]):
            problems.append(f"{path}: {keyword} lowered from {old[keyword]} to {new[keyword]}")
        elif keyword in _LOWER_BOUNDS and _below(old[keyword], new[keyword]):
            problems.append(f"{path}: {keyword} raised from {old[keyword]} to {new[keyword]}")
    for keyword in _EXACT:
        if keyword in new and new[keyword] != old.get(keyword):
            problems.append(f"{path}: {keyword} added or changed to {new[keyword]!r}")
    if "multipleOf" in new and not _multiple(old.get("multipleOf"), new["multipleOf"]):
        problems.append(f"{path}: multipleOf added or changed to {new['multipleOf']}")
    return problems


def _below(low: Any, high: Any) -> bool:
    """True when `low` < `high`; a bound that is not a number (draft-04's boolean
    exclusiveMaximum) counts as changed whenever it differs."""
    numbers = (int, float)
    both = isinstance(low, numbers) and isinstance(high, numbers)
    if both and not isinstance(low, bool) and not isinstance(high, bool):
        return bool(low < high)
    return bool(low != high)


def _multiple(old: Any, new: Any) -> bool:
    """Every multiple of `old` is a multiple of `new`."""
    if not isinstance(old, int | float) or not isinstance(new, int | float) or new == 0:
        return False
    ratio = old / new
    return math.isclose(ratio, round(ratio))


def _allowed_values(node: Mapping[str, Any], json_type: str) -> list[Any] | None:
    """The values of `json_type` a `const`/`enum` lets through; None when not limited."""
    if "const" in node:
        values = [node["const"]]
    elif "enum" in node:
        values = list(node["enum"])
    else:
        return None
    accepted = {"number", "integer"} if json_type == "number" else {json_type}
    return [value for value in values if _json_type(value) in accepted]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _by_type(node: Schema, root: Schema, via: str | None) -> dict[str, list[_Alternative]]:
    """The alternatives of `node` per JSON type it accepts (`anyOf`/`oneOf` flattened,
    `allOf` merged, `$ref`s followed)."""
    found: dict[str, list[_Alternative]] = {}
    for json_type, alternative in _alternatives(node, root, via):
        found.setdefault(json_type, []).append(alternative)
    return found


def _alternatives(
    node: Schema, root: Schema, via: str | None
) -> Iterator[tuple[str, _Alternative]]:
    resolved, via = _resolve(node, root, via)
    if resolved is False:
        return
    if resolved is True:
        resolved = {}
    assert isinstance(resolved, Mapping)
    if "allOf" in resolved:
        merged = {key: value for key, value in resolved.items() if key != "allOf"}
        for part in resolved["allOf"]:
            part, _ = _resolve(part, root, via)
            if part is False:
                return
            if isinstance(part, Mapping):
                merged.update(part)
        resolved = merged
    for keyword in ("anyOf", "oneOf"):
        if keyword in resolved:
            outer = {key: value for key, value in resolved.items() if key != keyword}
            for branch in resolved[keyword]:
                branch, branch_via = _resolve(branch, root, via)
                if branch is False:
                    continue
                own = branch if isinstance(branch, Mapping) else {}
                yield from _alternatives({**outer, **own}, root, branch_via)
            return
    yield from ((json_type, _Alternative(resolved, via)) for json_type in _types(resolved))


def _types(node: Mapping[str, Any]) -> list[str]:
    declared = node.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return list(declared)
    if "const" in node:
        return [_json_type(node["const"])]
    if "enum" in node:
        return list(dict.fromkeys(_json_type(value) for value in node["enum"]))
    return list(ALL_TYPES)


def _resolve(node: Schema, root: Schema, via: str | None) -> tuple[Schema, str | None]:
    """`node` with its local `$ref`s followed (keywords beside a `$ref` kept on top), and the
    last `$ref` followed."""
    for _ in range(_MAX_REF_HOPS):
        if not isinstance(node, Mapping) or "$ref" not in node:
            return node, via
        via = node["$ref"]
        target = _pointer(root, via)
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        if target is False:
            return False, via
        node = {**(target if isinstance(target, Mapping) else {}), **siblings}
    raise ValueError(f"$ref chain longer than {_MAX_REF_HOPS} hops at {via}")


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#"):
        raise ValueError(f"only local $refs can be followed, not {ref!r}")
    target: Any = root
    for part in (p for p in ref[1:].split("/") if p):
        key = part.replace("~1", "/").replace("~0", "~")
        try:
            target = target[int(key)] if isinstance(target, list) else target[key]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ValueError(f"unresolvable $ref {ref!r}") from None
    if not isinstance(target, Mapping | bool):
        raise ValueError(f"$ref {ref!r} does not name a schema")
    return target
