"""Durable state: the journal cursor, per-order records, failure counts and OAuth tokens."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from application.ports.publisher import DeadLetter, OutboundMessage
from domain.policy import OrderRecord


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last journal event fully processed; None means "from the oldest retained"."""

    position: str | None


@dataclass(frozen=True, slots=True)
class PollError:
    """The last failure of a whole poll (an outage), kept so that `status` can show it."""

    message: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class FailingOrder:
    """A checkout form that failed to map and is waiting for its next attempt."""

    checkout_form_id: str
    attempts: int
    last_error: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ErrorReport:
    last_poll_error: PollError | None = None
    failing_orders: tuple[FailingOrder, ...] = ()  # most recently failed first


@dataclass(frozen=True, slots=True)
class Quarantined:
    """The index entry of an input on the dead-letter topic (the topic holds the full record:
    the raw payload). `checkout_form_id` is the dead letter's key: a checkout form id, or
    `malformed-event-<id>` for a journal entry that names no form (application.dead_letters)."""

    checkout_form_id: str
    allegro_event_id: str | None
    error: str
    attempts: int
    failed_at: datetime  # timezone-aware

    @classmethod
    def of(cls, letter: DeadLetter) -> Quarantined:
        return cls(
            letter.checkout_form_id,
            letter.allegro_event_id,
            letter.error,
            letter.attempts,
            letter.failed_at,
        )


@dataclass(frozen=True, slots=True)
class StagedBatch:
    """A batch encoded and about to be sent: what a restart must re-send, then commit."""

    cursor: Cursor | None  # None: leave the cursor as it is (a sweep page)
    records: tuple[OrderRecord, ...]
    cleared_failures: tuple[str, ...]
    messages: tuple[OutboundMessage, ...]
    # The dead letters among `messages`: indexed by the commit that ends this batch.
    quarantined: tuple[Quarantined, ...] = ()


class CursorStore(Protocol):
    """The journal cursor and the one transaction that moves it (the journal path, the
    reconciler's barrier, the operator's `cursor set`)."""

    async def load_cursor(self, account: str) -> Cursor | None: ...

    async def commit(
        self,
        account: str,
        cursor: Cursor | None,
        records: Sequence[OrderRecord] = (),
        cleared_failures: Collection[str] = (),
        quarantined: Sequence[Quarantined] = (),
    ) -> None:
        """Cursor, records and cleared failure counts in ONE transaction: all or nothing.

        `cursor=None` leaves the stored cursor as it is (sweeps and backfills record orders
        without moving the journal position another process may be advancing).
        The account's staged batch is deleted in the same transaction by the commit that
        ends it: with a cursor, any staged batch (the journal's commit); without one, only a
        batch staged without a cursor (a sweep page's). A journal batch staged with a cursor
        survives a commit without one: it is still to be re-sent.

        The commit that ends a batch also indexes the batch's `quarantined` entries, given by
        the caller, which holds the batch (see `FailureLog.load_quarantined`): an input is
        listed as quarantined exactly when its dead letter was sent. An id in
        `cleared_failures` that the batch does not quarantine was decided again (imported, or
        gone): its quarantine entry is dropped. The staged payload is never read back by a
        commit.
        """
        ...


class StagingStore(CursorStore, Protocol):
    """The outbox's half: a batch staged durably before it is sent, ended by its commit."""

    async def stage(self, account: str, batch: StagedBatch) -> None:
        """Durable before it returns; replaces any batch already staged for the account."""
        ...

    async def load_staged(self, account: str) -> StagedBatch | None: ...


class OrderRecords(Protocol):
    """What was last published per order: what the next decision compares against."""

    async def load_records(
        self, account: str, checkout_form_ids: Collection[str]
    ) -> Mapping[str, OrderRecord]: ...


class FailureLog(Protocol):
    """Failing inputs and failed polls: counted, quarantined, shown to operators."""

    async def record_failure(self, account: str, checkout_form_id: str, error: str) -> int:
        """Count one more failed attempt (durably) and return the total so far."""
        ...

    async def record_poll_error(self, account: str, message: str, occurred_at: datetime) -> None:
        """Keep `message` as the account's last poll error (it replaces the previous one).

        `occurred_at` must be timezone-aware (ValueError otherwise).
        """
        ...

    async def load_errors(self, account: str, limit: int = 20) -> ErrorReport:
        """The last poll error and up to `limit` checkout forms still failing."""
        ...

    async def load_quarantined(self, account: str, limit: int = 100) -> tuple[Quarantined, ...]:
        """Up to `limit` inputs on the dead-letter topic and not decided since, most recently
        quarantined first (ties by id)."""
        ...

    async def clear_failure(self, account: str, checkout_form_id: str) -> bool:
        """Forget the form's failure count and its quarantine entry (an operator's decision:
        its next failure counts from one). False when there was neither."""
        ...


class StateStore(StagingStore, OrderRecords, FailureLog, Protocol):
    """Every half, as one adapter (SQLite, PostgreSQL, in memory) provides them in one
    database: the commit that moves the cursor writes records and failures too."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    scope: str | None = None


class TokenStore(Protocol):
    async def load(self, account: str) -> TokenPair | None: ...

    async def save(self, account: str, pair: TokenPair) -> None:
        """Durable before it returns: a rotated refresh token must never be lost."""
        ...
