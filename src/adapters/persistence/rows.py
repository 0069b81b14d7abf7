"""Order records and token timestamps <-> database columns, shared by the SQL stores."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from application.ports.errors import StateStoreError
from application.ports.state import Quarantined
from domain.mapping import StatusTriple
from domain.policy import OrderRecord
from domain.statuses import OrderStatus, PaymentStatus

# `order_records` columns after the account, in the order the stores select them.
RecordRow = tuple[str, str | None, str, str, str | None, str | None]

MAX_ERROR_LENGTH = 4000  # a failure count keeps the head of its last error, not a novel
# An order record's content fingerprint is one short digest per published field (about
# 40 fields, under 1 KB today): a longer one is not a fingerprint, so it is refused
# rather than stored for every order.
MAX_CONTENT_LENGTH = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def record_to_row(record: OrderRecord) -> RecordRow:
    """Refuses what no store keeps (see `check_content`), so a batch staged with it would
    never commit either."""
    published = record.published
    return (
        record.checkout_form_id,
        record.revision,
        str(published.order_status),
        str(published.payment_status),
        published.fulfillment_status,
        check_content(record.content),
    )


def check_content(content: object) -> str | None:
    """An order record's content fingerprint as every store keeps it: None (not recorded),
    or a non-empty string of at most `MAX_CONTENT_LENGTH` characters without control
    characters (it is our own data, so anything else is a bug worth stopping on, not
    something to store for every order)."""
    if content is None:
        return None
    if not isinstance(content, str):
        raise StateStoreError(
            f"an order record's content must be text, got {type(content).__name__}"
        )
    if not content:
        raise StateStoreError("an order record's content must not be empty (use None)")
    if len(content) > MAX_CONTENT_LENGTH:
        raise StateStoreError(
            f"an order record's content is {len(content)} characters long, "
            f"over the {MAX_CONTENT_LENGTH} a fingerprint takes"
        )
    if _CONTROL.search(content):
        raise StateStoreError("an order record's content must not hold control characters")
    return content


DeadLetterRow = tuple[str, str | None, str, int, str]


def dead_letter_row(entry: Quarantined) -> DeadLetterRow:
    """`dead_letters` columns after the account (the time as ISO 8601 text, UTC: SQLite
    orders it as text, PostgreSQL parses it into its TIMESTAMPTZ)."""
    if not entry.checkout_form_id:
        raise StateStoreError("the checkout form id must not be empty")
    if entry.attempts < 1:
        raise StateStoreError(f"attempts must be positive, got {entry.attempts}")
    return (
        entry.checkout_form_id,
        entry.allegro_event_id,
        entry.error[:MAX_ERROR_LENGTH],
        entry.attempts,
        require_aware(entry.failed_at, "failed_at").isoformat(),
    )


def record_from_row(row: tuple[Any, ...]) -> OrderRecord:
    checkout_form_id, revision, order_status, payment_status, fulfillment_status, content = row
    try:
        triple = StatusTriple(
            OrderStatus(order_status), PaymentStatus(payment_status), fulfillment_status
        )
    except ValueError as exc:
        raise StateStoreError(
            f"order record {checkout_form_id!r} holds an unknown status: {exc}"
        ) from exc
    return OrderRecord(checkout_form_id, revision, triple, content)


def require_aware(moment: datetime, what: str = "expires_at") -> datetime:
    """Refuses naive datetimes, which would be read back differently by each backend."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def utc_from_text(value: str) -> datetime:
    """A SQLite timestamp (ISO 8601, or CURRENT_TIMESTAMP's naive UTC) as an aware datetime."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_limit(limit: int) -> int:
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    return limit
