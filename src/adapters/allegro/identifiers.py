"""The shapes of Allegro's identifiers and enumerations, checked where its JSON comes in.

A value of another shape is not Allegro's: it is refused as malformed (the form or event
takes the poison path) before it can reach a URL path, a Kafka key or a database row. An
id of `.` put into `/order/checkout-forms/{id}` names the list endpoint; a NUL character
fails every PostgreSQL write. The shapes (docs/hostile-input.md; Allegro's own in
docs/allegro-api.md, General conventions and Order event journal):
- checkout form and line item ids are UUIDs (Allegro answers 422 to any other);
- a revision is opaque (8 lowercase hex characters today): letters, digits, `-` and `_`;
- statuses and event types are upper-case words joined by `_`; new values keep that shape;
- journal event ids are decimal digits (microsecond timestamps).
"""

from __future__ import annotations

import re

from domain.errors import InvalidValue

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_REVISION = re.compile(r"[0-9A-Za-z_-]{1,64}")
_ENUM = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_EVENT_ID = re.compile(r"[0-9]{1,32}")


class MalformedIdentifier(InvalidValue):
    """A value that does not have the shape of the Allegro identifier it stands for: an
    invalid value of the form (poison path) like any other."""


def is_checkout_form_id(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def checkout_form_id(value: str, what: str = "checkout form id") -> str:
    return _checked(value, _UUID, what)


def revision(value: str | None) -> str | None:
    return None if value is None else _checked(value, _REVISION, "revision")


def enum_value(value: str, what: str) -> str:
    return _checked(value, _ENUM, what)


def optional_enum(value: str | None, what: str) -> str | None:
    return None if value is None else _checked(value, _ENUM, what)


def event_id(value: str) -> str:
    return _checked(value, _EVENT_ID, "event id")


def _checked(value: str, shape: re.Pattern[str], what: str) -> str:
    if isinstance(value, str) and shape.fullmatch(value):
        return value
    raise MalformedIdentifier(f"{what} is not of Allegro's shape: {describe(value)}")


def describe(value: object) -> str:
    """A short, printable rendering of a refused value (never more than 40 characters)."""
    text = ascii(value)
    return text if len(text) <= 40 else text[:37] + "..."
