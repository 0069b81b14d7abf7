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
_DIGEST_CHARS = 16  # 64 bits: a collision would hide one change of one order, once


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
    canonical = json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:_DIGEST_CHARS]


def _plain(value: object) -> object:
    """A JSON-able form that depends only on the value (not on Python's reprs)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value else "NaN"
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
