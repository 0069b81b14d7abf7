"""`OrderUpdated` events for the Kafka tests (tests/support/builders.py has the others)."""

from __future__ import annotations

import dataclasses
from typing import Any

from domain.events import OrderUpdated, event_id
from tests.support.builders import make_order_imported


def make_order_updated(
    changed: tuple[str, ...] = ("shipping_address",), **overrides: Any
) -> OrderUpdated:
    """The order of `make_order_imported(**overrides)` published again as updated, with
    `changed`; `event_id` follows the policy's recipe with a fixed stand-in fingerprint."""
    imported = make_order_imported(**overrides)
    fields = {field.name: getattr(imported, field.name) for field in dataclasses.fields(imported)}
    if "event_id" not in overrides:
        fields["event_id"] = event_id(
            imported.account, imported.external_id, imported.revision, "OrderUpdated", "digest"
        )
    return OrderUpdated(**fields, changed=changed)
