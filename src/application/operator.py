"""Use cases of the operator's tools: moving the journal cursor (as Kafka Connect's offsets
API does) and handling dead letters. The entrypoints run the writing ones as the account's
only writer (`openoms-allegro cursor ...`, `dead-letters retry|clear`); every change is
logged at INFO with who asked for it.

Journal event ids behave like microsecond Unix timestamps (16 digits; see docs/allegro-api.md,
Order event journal, and `reconcile.cursor_time`): a date becomes a
journal position by jumping near it with such an id and walking forward to the last event
before it. A position older than the journal's retention is repaired by the
reconciliation sweep when the service next starts (`Reconciler.repair_stale_cursor`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from application.dead_letters import MALFORMED_EVENT_KEY
from application.ports.allegro import JOURNAL_PAGE_SIZE, OrderEventJournal
from application.ports.state import Cursor, FailingOrder, FailureLog, Quarantined, StagingStore
from application.reconcile import JOURNAL_RETENTION
from application.sweep import RetryResult, SweepCheckoutForms

log = logging.getLogger(__name__)

LATEST = "latest"
EARLIEST = "earliest"
# How far before a date the walk to it starts: the id ~ time relation is Allegro's habit,
# not its promise, so the jump lands early and the walk does the rest.
SEARCH_MARGIN = timedelta(minutes=10)
SEARCH_PAGES = 20  # journal pages walked at most; stopping early only re-reads more events
PAGE_SIZE = JOURNAL_PAGE_SIZE  # full pages: fewer requests for the walk
# Within this much of the retention the service sweeps checkout forms on start
# (`ReconcileSettings.retention - safety_margin`): the position is then only a time.
STALE_AFTER = JOURNAL_RETENTION - timedelta(days=2)
MALFORMED_PREFIX = MALFORMED_EVENT_KEY.split("{", 1)[0]


class OperatorRefusal(Exception):
    """A request the tools refuse, with one line saying what to do instead."""


@dataclass(frozen=True, slots=True)
class CursorMove:
    previous: Cursor | None  # None: no cursor was stored
    current: Cursor
    note: str | None = None  # what else the operator should know (e.g. a sweep will follow)


def describe(cursor: Cursor | None) -> str:
    if cursor is None:
        return "none stored"
    if cursor.position is None:
        return "the oldest retained event (earliest)"
    return cursor.position


def event_id(text: str) -> str:
    """A journal event id as an operator typed it: decimal digits only."""
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        raise OperatorRefusal(
            f"{text!r} is not a journal event id: Allegro's order event ids are decimal "
            "digits (e.g. 1773479698020317); use `cursor reset --to DATE` to go by time"
        )
    return value


def timestamp_id(moment: datetime) -> str:
    """The id an event at `moment` would have (microseconds since the epoch)."""
    return str(int(moment.timestamp() * 1_000_000))


async def position_at(
    journal: OrderEventJournal, moment: datetime, now: datetime
) -> tuple[Cursor, str | None]:
    """The cursor from which the journal gives every event at or after `moment`: the last
    event before it, found by walking from a little before; and a note for the operator."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    if moment > now:
        raise OperatorRefusal(
            f"{moment.isoformat()} is in the future: the journal has no events after now"
        )
    if now - moment >= STALE_AFTER:
        note = (
            f"{moment.isoformat()} is older than the journal keeps events "
            f"({JOURNAL_RETENTION.days} days): the next `run` sweeps the checkout forms "
            "bought since then, then continues from the newest event"
        )
        return Cursor(timestamp_id(moment)), note
    position = timestamp_id(moment - SEARCH_MARGIN)
    after = position
    for _ in range(SEARCH_PAGES):
        events = await journal.fetch(after, PAGE_SIZE)
        for event in events:
            if event.occurred_at >= moment:
                return Cursor(position), None
            position = event.id
        if len(events) < PAGE_SIZE:
            break
        after = events[-1].id
    return Cursor(position), None


async def target_position(
    journal: OrderEventJournal, target: str, now: datetime
) -> tuple[Cursor, str | None]:
    """`latest` (the newest event now, as `ALLEGRO_START_FROM=latest` places a new cursor),
    `earliest` (the oldest retained event) or an ISO date."""
    if target == LATEST:
        newest = await journal.latest_event_id()
        return Cursor(newest), None if newest else "the journal holds no event yet"
    if target == EARLIEST:
        return Cursor(None), None
    return await position_at(journal, parse_date(target), now)


def parse_date(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise OperatorRefusal(
            f"--to {text!r}: expected latest, earliest or an ISO date "
            "(2026-03-14 or 2026-03-14T09:00, UTC unless it has an offset)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def move_cursor(
    state: StagingStore,
    account: str,
    target: Cursor,
    *,
    command: str,
    actor: str,
    note: str | None = None,
) -> CursorMove:
    """Store `target` as the account's cursor. The caller holds the writer lock or lease.

    Refused while a batch is staged: its commit would move the cursor again (to where that
    batch ends) and a commit moving the cursor ends (drops) any staged batch, so the batch's
    records would never be sent; the service or `run --once` sends it first."""
    if await state.load_staged(account) is not None:
        raise OperatorRefusal(
            "a batch read before an interruption is staged and not yet sent: run "
            "`openoms-allegro run --once` first (it sends it), then move the cursor"
        )
    previous = await state.load_cursor(account)
    await state.commit(account, target)
    log.info(
        "cursor moved",
        extra={
            "account": account,
            "previous": describe(previous),
            "cursor": describe(target),
            "command": command,
            "by": actor,
        },
    )
    return CursorMove(previous, target, note)


@dataclass(frozen=True, slots=True)
class DeadLetterReport:
    quarantined: tuple[Quarantined, ...]  # on the dead-letter topic, not decided since
    failing: tuple[FailingOrder, ...]  # failed, waiting for their next attempt


async def dead_letter_report(state: FailureLog, account: str, limit: int) -> DeadLetterReport:
    errors = await state.load_errors(account, limit)
    return DeadLetterReport(await state.load_quarantined(account, limit), errors.failing_orders)


def is_malformed_event(key: str) -> bool:
    """A quarantined journal entry: it names no checkout form to read again."""
    return key.startswith(MALFORMED_PREFIX)


@dataclass(frozen=True, slots=True)
class RetryReport:
    results: tuple[RetryResult, ...]
    skipped: tuple[str, ...] = ()  # quarantined journal entries: nothing to read again


async def retry_dead_letters(
    sweep: SweepCheckoutForms,
    state: FailureLog,
    account: str,
    checkout_form_ids: Sequence[str] | None,
    *,
    actor: str,
    limit: int = 10_000,
) -> RetryReport:
    """Read the forms again and run them through the sweep's path; None: every quarantined
    one (up to `limit`). The caller holds the writer lock or lease."""
    if checkout_form_ids is None:
        keys = [entry.checkout_form_id for entry in await state.load_quarantined(account, limit)]
    else:
        keys = list(dict.fromkeys(checkout_form_ids))
        malformed = [key for key in keys if is_malformed_event(key)]
        if malformed:
            raise OperatorRefusal(
                f"{malformed[0]} is a journal entry that was not Allegro's, not a checkout "
                "form: there is nothing to read again (`dead-letters clear` drops it)"
            )
    skipped = tuple(key for key in keys if is_malformed_event(key))
    ids = [key for key in keys if not is_malformed_event(key)]
    results = tuple(await sweep.retry(ids)) if ids else ()
    log.info(
        "dead letters retried",
        extra={
            "account": account,
            "retried": len(results),
            "decided": sum(result.decided for result in results),
            "gone": sum(result.gone for result in results),
            "still_failing": sum(result.error is not None for result in results),
            "by": actor,
        },
    )
    return RetryReport(results, skipped)


async def clear_failure(
    state: FailureLog, account: str, checkout_form_id: str, *, actor: str
) -> bool:
    """Forget an order's failure count and quarantine entry (its next failure counts from
    one). The caller holds the writer lock or lease."""
    cleared = await state.clear_failure(account, checkout_form_id)
    log.info(
        "failure count cleared" if cleared else "no failure count to clear",
        extra={"account": account, "checkout_form_id": checkout_form_id, "by": actor},
    )
    return cleared
