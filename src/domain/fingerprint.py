"""What an order record keeps to tell whether an imported order's content changed: one short
digest per published top-level field, never the buyer's data itself.

`changed` names the fields whose digest differs. A fingerprint of another `VERSION` (or none,
for an order recorded before fingerprints existed) cannot be compared: nothing is said about
it and the new fingerprint is recorded. `VERSION` moves whenever the set of fields or the
shape of one of them changes (a field added to line items, say), so that an upgrade never
reports every order as updated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum

VERSION = "1"
_DIGEST_BYTES = 8  # 64 bits: a collision would hide one change of one order, once


def fingerprint(fields: Mapping[str, object]) -> str:
    """`VERSION;name=digest;...`, names sorted."""
    parts = (f"{name}={_digest(value)}" for name, value in sorted(fields.items()))
    return ";".join((VERSION, *parts))


def changed(previous: str | None, current: str) -> tuple[str, ...] | None:
    """The fields whose digests differ, sorted; None when `previous` cannot be compared."""
    before, after = _parse(previous), _parse(current)
    if before is None or after is None:
        return None
    names = sorted(set(before) | set(after))
    return tuple(name for name in names if before.get(name) != after.get(name))


def _parse(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    version, _, rest = text.partition(";")
    if version != VERSION:
        return None
    pairs = (part.partition("=") for part in rest.split(";") if part)
    return {name: digest for name, _, digest in pairs}


def _digest(value: object) -> str:
    canonical = _ENCODE(_plain(value)).encode()
    return hashlib.blake2b(canonical, digest_size=_DIGEST_BYTES).hexdigest()


# One decision computes ~30 digests, on every import and every later revision: the canonical
# form is built without `dataclasses.fields()` per object (its field names are cached per class)
# and encoded by one reused encoder.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: object) -> object:
    """A JSON-able form that depends only on the value (not on Python's reprs): a dataclass
    is the list of its fields' values in declaration order (a new field moves `VERSION`)."""
    kind = type(value)
    if value is None or kind in (str, int, bool, float):
        return value
    if kind in (tuple, list):
        return [_plain(item) for item in value]  # type: ignore[attr-defined]
    if kind is Decimal:
        return str(value.normalize()) if value == value else "NaN"  # type: ignore[attr-defined]
    if kind is datetime:
        return value.isoformat()  # type: ignore[attr-defined]
    if isinstance(value, Enum):
        return _plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES.get(kind)
        if names is None:
            names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
        return [_plain(getattr(value, name)) for name in names]
    return str(value)
