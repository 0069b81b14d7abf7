"""Order records and token timestamps <-> database columns, shared by the SQL stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from application.ports.errors import StateStoreError
from application.ports.state import Quarantined
from domain.mapping import StatusTriple
from domain.policy import OrderRecord
from domain.statuses import OrderStatus, PaymentStatus

RecordRow = tuple[str, str | None, str, str, str | None]

MAX_ERROR_LENGTH = 4000  # a failure count keeps the head of its last error, not a novel


def record_to_row(record: OrderRecord) -> RecordRow:
    published = record.published
    return (
        record.checkout_form_id,
        record.revision,
        str(published.order_status),
        str(published.payment_status),
        published.fulfillment_status,
    )


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
    checkout_form_id, revision, order_status, payment_status, fulfillment_status = row
    try:
        triple = StatusTriple(
            OrderStatus(order_status), PaymentStatus(payment_status), fulfillment_status
        )
    except ValueError as exc:
        raise StateStoreError(
            f"order record {checkout_form_id!r} holds an unknown status: {exc}"
        ) from exc
    return OrderRecord(checkout_form_id, revision, triple)


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
