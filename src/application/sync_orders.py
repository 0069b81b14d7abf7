"""Use case: one poll of the order journal, from cursor to committed cursor.

read cursor → next batch (`journal_batches`: journal pages and their checkout forms) →
in commit units, hand the forms to the batch pipeline (`pipeline`: decide, quarantine,
stage, send, commit with the cursor at the unit's last event).
Outages (Allegro, broker, state store) propagate and the cursor holds; a form that cannot
be mapped is retried on the next poll and dead-lettered after `max_attempts`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from application.dead_letters import malformed_event
from application.form_loader import MIN_ORDERS
from application.journal_batches import JournalBatches
from application.pipeline import BatchPipeline, Revealed
from application.ports.allegro import JOURNAL_PAGE_SIZE, JournalEvent
from application.ports.clock import Clock
from application.ports.publisher import DeadLetter
from application.ports.state import Cursor, CursorStore
from application.slices import DEFAULT_SLICE_REQUESTS
from domain.events import DomainEvent

log = logging.getLogger(__name__)

START_LATEST = "latest"
START_EARLIEST = "earliest"
# Journal pages one batch may take while a backlog lasts: the service's default (BATCH_PAGES)
# and the most one batch may hold in memory (MAX_PAGES_PER_BATCH full journal pages).
PAGES_PER_BATCH = 4
MAX_PAGES_PER_BATCH = 20


@dataclass(frozen=True, slots=True)
class SyncSettings:
    account: str
    start_from: str = START_LATEST  # "latest", "earliest" or a journal event id
    batch_size: int = JOURNAL_PAGE_SIZE  # events per journal page
    pages_per_batch: int = PAGES_PER_BATCH  # journal pages one batch may take in a backlog
    slice_requests: float = DEFAULT_SLICE_REQUESTS  # reads one commit unit may cost
    max_attempts: int = 3
    read_concurrency: int = 8
    bulk_reads: bool = True  # read through list pages where that saves requests
    bulk_min_orders: int = MIN_ORDERS  # fewer orders in a purchase-time window: single reads

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= JOURNAL_PAGE_SIZE:
            raise ValueError(f"batch_size must be within 1..{JOURNAL_PAGE_SIZE} (Allegro's limit)")
        if not 1 <= self.pages_per_batch <= MAX_PAGES_PER_BATCH:
            raise ValueError(f"pages_per_batch must be within 1..{MAX_PAGES_PER_BATCH}")
        if not self.slice_requests > 0:
            raise ValueError("slice_requests must be positive")
        if self.max_attempts < 1 or self.read_concurrency < 1 or self.bulk_min_orders < 1:
            raise ValueError("max_attempts, read_concurrency and bulk_min_orders must be positive")


@dataclass(slots=True)
class BatchOutcome:
    events_read: int = 0
    orders_read: int = 0
    published: list[DomainEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    retry_pending: list[str] = field(default_factory=list)  # failing forms, not yet quarantined
    cursor: Cursor | None = None
    full: bool = False  # the journal returned a full page: more may be waiting
    resent: int = 0  # messages of a batch staged before an interruption, sent again

    @property
    def committed(self) -> bool:
        return not self.retry_pending and self.events_read > 0


class SyncOrders:
    def __init__(
        self,
        source: JournalBatches,
        pipeline: BatchPipeline,
        cursors: CursorStore,
        settings: SyncSettings,
        clock: Clock,
    ) -> None:
        if settings.account != pipeline.account:
            raise ValueError("the settings and the pipeline must serve the same account")
        self._source = source
        self._pipeline = pipeline
        self._cursors = cursors
        self._settings = settings
        self._clock = clock

    @property
    def account(self) -> str:
        return self._settings.account

    async def cursor(self) -> Cursor:
        """The stored cursor, or a new one placed by `start_from` and stored at once.

        Storing it at once matters for `latest`: a restart must not re-read event-stats
        and silently skip what happened in between.
        """
        cursor = await self._cursors.load_cursor(self.account)
        if cursor is not None:
            return cursor
        start = self._settings.start_from
        if start == START_LATEST:
            cursor = Cursor(await self._source.latest_event_id())
        elif start == START_EARLIEST:
            cursor = Cursor(None)
        else:
            cursor = Cursor(start)
        await self._cursors.commit(self.account, cursor)
        log.info("cursor initialised", extra={"account": self.account, "start_from": start})
        return cursor

    async def run_batch(self) -> BatchOutcome:
        staged = await self._pipeline.resend_staged()
        if staged is not None:  # the decisions it carries were made once: not again
            return BatchOutcome(resent=len(staged.messages), cursor=staged.cursor, full=True)
        cursor = await self.cursor()
        batch = await self._source.next(cursor.position)
        outcome = BatchOutcome(events_read=len(batch.events), cursor=cursor)
        if not batch.events:
            return outcome
        outcome.full = batch.full
        outcome.orders_read = len(batch.groups)
        done = False
        try:
            records = await self._pipeline.records([g.checkout_form_id for g in batch.groups])
            start = 0
            for part in batch.slices(self._settings.slice_requests):
                forms = await batch.load(part.groups, records)
                revealed = [
                    Revealed(g.checkout_form_id, form, g)
                    for g, form in zip(part.groups, forms, strict=True)
                ]
                events = batch.events[start : part.end]
                malformed = self._malformed(events)
                delivery = await self._pipeline.run(
                    revealed, cursor=Cursor(events[-1].id), records=records, quarantine=malformed
                )
                outcome.gone.extend(delivery.gone)
                if not delivery.committed:  # a form waits for a retry: the cursor stays
                    outcome.retry_pending = delivery.pending
                    return outcome
                self._log_quarantined(malformed)
                outcome.published.extend(delivery.events)
                outcome.dead_letters.extend(delivery.dead_letters)
                outcome.cursor = Cursor(events[-1].id)
                start = part.end
            done = True
        finally:
            if not done:  # the cursor will not reach the batch's end
                batch.abandon()
        return outcome

    def _malformed(self, events: list[JournalEvent]) -> list[DeadLetter]:
        """Journal entries that are not Allegro's: quarantined with the unit they are in."""
        now = self._clock.now()
        return [malformed_event(self.account, e, now) for e in events if e.malformed]

    @staticmethod
    def _log_quarantined(letters: list[DeadLetter]) -> None:
        """Said once their unit is committed (a unit held for a retry quarantines nothing)."""
        for letter in letters:
            log.warning(
                "journal event is not Allegro's, quarantined",
                extra={"allegro_event_id": letter.allegro_event_id, "error": letter.error},
            )

    async def drain(self, max_batches: int | None = None) -> list[BatchOutcome]:
        """Every outcome of `batches` (tests; `run --once` keeps counts only)."""
        return [outcome async for outcome in self.batches(max_batches)]

    async def batches(self, max_batches: int | None = None) -> AsyncIterator[BatchOutcome]:
        """Run batches until the journal has nothing more right now (for `run --once`), one
        outcome at a time: a caller that keeps counts holds one batch's events at most,
        however long the backlog."""
        runs = 0
        while max_batches is None or runs < max_batches:
            outcome = await self.run_batch()
            runs += 1
            yield outcome
            if outcome.resent:
                continue
            if outcome.events_read == 0:
                break
            if not outcome.full and not outcome.retry_pending:
                break
