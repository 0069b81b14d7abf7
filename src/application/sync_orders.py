"""Use case: one poll of the order journal, from cursor to committed cursor.

read cursor → fetch events → read the checkout forms (list pages where they save requests,
one read per order otherwise: see `form_loader`) → decide → publish and wait for
acknowledgements → commit cursor + order records in one state transaction.
Outages (Allegro, broker, state store) propagate and the cursor holds; a form that cannot
be mapped is retried on the next poll and dead-lettered after `max_attempts`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from application.coalesce import FormEvents, coalesce
from application.dead_letters import decision_error, describe, malformed_event
from application.form_loader import MIN_ORDERS, FormLoader, Loaded, LoadedForms
from application.outbox import deliver, resend_staged
from application.ports.allegro import (
    JOURNAL_PAGE_SIZE,
    LIST_PAGE_SIZE,
    CheckoutFormReader,
    JournalEvent,
    OrderEventJournal,
    UnreadableCheckoutForm,
)
from application.ports.clock import Clock
from application.ports.errors import (
    AllegroError,
    AllegroRejected,
    CheckoutFormNotFound,
    MalformedBody,
)
from application.ports.publisher import DeadLetter, EventPublisher
from application.ports.state import Cursor, Quarantined, StagedBatch, StateStore
from application.slices import DEFAULT_SLICE_REQUESTS, Slice, slices
from domain.events import DomainEvent
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy, ImportTrigger, OrderRecord

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
    # Journal pages one batch may take in a backlog: one unless told (the service passes
    # BATCH_PAGES, PAGES_PER_BATCH by default).
    pages_per_batch: int = 1
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


@dataclass(frozen=True, slots=True)
class _Failure:
    form: FormEvents
    raw: str
    error: str
    parsed: bool = False  # `raw` describes the parsed form: fetch Allegro's body to quarantine


@dataclass(slots=True)
class _Work:
    events: list[DomainEvent] = field(default_factory=list)
    records: list[OrderRecord] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A batch's journal pages, and its checkout forms when they were read ahead."""

    events: list[JournalEvent]
    full: bool
    forms: LoadedForms | None = None


@dataclass(frozen=True, slots=True)
class _ReadAhead:
    """A batch's forms read ahead, by checkout form id (slices take theirs from it)."""

    results: dict[str, Loaded]
    absent: frozenset[str]

    @classmethod
    def of(cls, groups: list[FormEvents], forms: LoadedForms | None) -> _ReadAhead | None:
        if forms is None:
            return None
        ids = (g.checkout_form_id for g in groups)
        return cls(dict(zip(ids, forms.results, strict=True)), forms.absent)


@dataclass(slots=True)
class _Ahead:
    after: str  # the event id the pages were read after: used only if the cursor lands there
    task: asyncio.Task[_Fetched]
    go: asyncio.Event  # set once the current batch's own forms are read


class SyncOrders:
    def __init__(
        self,
        journal: OrderEventJournal,
        forms: CheckoutFormReader,
        publisher: EventPublisher,
        state: StateStore,
        policy: ImportPolicy,
        settings: SyncSettings,
        clock: Clock,
    ) -> None:
        self._journal = journal
        self._forms = forms
        self._loader = FormLoader(
            forms,
            concurrency=settings.read_concurrency,
            bulk=settings.bulk_reads,
            min_orders=settings.bulk_min_orders,
        )
        self._publisher = publisher
        self._state = state
        self._policy = policy
        self._settings = settings
        self._clock = clock
        self._ahead: _Ahead | None = None

    @property
    def account(self) -> str:
        return self._settings.account

    async def cursor(self) -> Cursor:
        """The stored cursor, or a new one placed by `start_from` and stored at once.

        Storing it at once matters for `latest`: a restart must not re-read event-stats
        and silently skip what happened in between.
        """
        cursor = await self._state.load_cursor(self.account)
        if cursor is not None:
            return cursor
        start = self._settings.start_from
        if start == START_LATEST:
            cursor = Cursor(await self._journal.latest_event_id())
        elif start == START_EARLIEST:
            cursor = Cursor(None)
        else:
            cursor = Cursor(start)
        await self._state.commit(self.account, cursor)
        log.info("cursor initialised", extra={"account": self.account, "start_from": start})
        return cursor

    async def run_batch(self) -> BatchOutcome:
        staged = await resend_staged(self._state, self._publisher, self.account)
        if staged is not None:  # the decisions it carries were made once: not again
            return BatchOutcome(resent=len(staged.messages), cursor=staged.cursor, full=True)
        cursor = await self.cursor()
        fetched = await self._fetch_batch(cursor.position)
        events = fetched.events
        outcome = BatchOutcome(events_read=len(events), cursor=cursor)
        if not events:
            return outcome
        outcome.full = fetched.full
        if fetched.full:
            self._read_ahead(events[-1].id)
        groups = coalesce(events)
        records = await self._state.load_records(self.account, [g.checkout_form_id for g in groups])
        outcome.orders_read = len(groups)
        parts = self._slices(events, groups, fetched.forms)
        ahead = _ReadAhead.of(groups, fetched.forms)
        start = 0
        done = False
        try:
            for index, part in enumerate(parts):
                work = await self._process(part.groups, records, ahead)
                if index == len(parts) - 1 and self._ahead is not None:
                    self._ahead.go.set()  # this batch's forms are read: the next batch's now
                if not await self._deliver(work, events[start : part.end], outcome):
                    return outcome  # a form waits for a retry: the cursor stays before it
                start = part.end
            done = True
        finally:
            if not done:  # the cursor will not reach the end: what was read ahead is moot
                self.forget_read_ahead()
        return outcome

    def _slices(
        self, events: list[JournalEvent], groups: list[FormEvents], ahead: LoadedForms | None
    ) -> list[Slice]:
        """The batch's commit units (see `slices`). A batch read ahead costs nothing more, and
        one of fewer orders than a slice may cost is one slice: no clustering for a trickle."""
        if ahead is not None or len(groups) <= self._settings.slice_requests:
            return [Slice(groups, len(events))]
        paged = self._loader.paged(groups)
        share = 1.0 / LIST_PAGE_SIZE

        def cost(group: FormEvents) -> float:
            return share if group.checkout_form_id in paged else 1.0

        return slices(events, groups, cost, self._settings.slice_requests)

    async def _deliver(
        self, work: _Work, events: list[JournalEvent], outcome: BatchOutcome
    ) -> bool:
        """Publish and commit one slice (its events are `events`); False when a form of it
        waits for a retry (nothing of the slice is committed then)."""
        outcome.gone.extend(work.gone)
        dead_letters, pending = await self._account_failures(work.failures)
        if pending:
            outcome.retry_pending = pending
            return False
        cleared = (*work.succeeded, *work.gone, *(d.checkout_form_id for d in dead_letters))
        dead_letters.extend(self._malformed(events))
        new_cursor = Cursor(events[-1].id)
        messages = self._publisher.encode(work.events, dead_letters)
        # Staged first: a crash from here to the commit re-sends exactly these bytes.
        quarantined = tuple(Quarantined.of(letter) for letter in dead_letters)
        batch = StagedBatch(new_cursor, tuple(work.records), cleared, tuple(messages), quarantined)
        await deliver(self._state, self._publisher, self.account, batch)
        outcome.published.extend(work.events)
        outcome.dead_letters.extend(dead_letters)
        outcome.cursor = new_cursor
        return True

    def _malformed(self, events: list[JournalEvent]) -> list[DeadLetter]:
        now = self._clock.now()
        letters = [malformed_event(self.account, e, now) for e in events if e.malformed]
        for letter in letters:
            log.warning(
                "journal event is not Allegro's, quarantined",
                extra={"allegro_event_id": letter.allegro_event_id, "error": letter.error},
            )
        return letters

    async def _fetch_batch(self, position: str | None) -> _Fetched:
        """The batch's journal pages after `position` (see `_read_pages`): the ones read
        ahead, with their forms, when they start there; else read now."""
        ahead = self._ahead
        if ahead is None or ahead.after != position:
            self.forget_read_ahead()
        else:
            self._ahead = None
            ahead.go.set()
            try:
                return await ahead.task
            except AllegroError as exc:  # read them again now, as if never read ahead
                log.info("journal read-ahead failed", extra={"error": str(exc)})
        return _Fetched(*await self._read_pages(position))

    async def _read_pages(self, position: str | None) -> tuple[list[JournalEvent], bool]:
        """Up to `pages_per_batch` journal pages while they come back full (a backlog), and
        whether the last one was full. One batch reads an order once, however many of its
        events the pages hold: bigger batches during a backlog read each order fewer times."""
        size = self._settings.batch_size
        events = list(await self._journal.fetch(position, size))
        full = len(events) >= size
        pages = 1
        while full and pages < self._settings.pages_per_batch:
            page = await self._journal.fetch(events[-1].id, size)
            events.extend(page)
            full = len(page) >= size
            pages += 1
        return events, full

    def _read_ahead(self, after: str) -> None:
        """A full batch means more is waiting: read the next batch's pages while this one is
        processed, and its checkout forms once this batch's own are read (while this one is
        published and committed). It is only a head start: `_fetch_batch` uses it only if
        the cursor ends up at `after`, and its result or error is never lost (read again
        otherwise)."""
        self.forget_read_ahead()
        go = asyncio.Event()
        task = asyncio.create_task(self._read_batch_ahead(after, go))
        task.add_done_callback(_quiet)
        self._ahead = _Ahead(after, task, go)

    def forget_read_ahead(self) -> None:
        """Drop what was read ahead. For whoever writes order records between two batches
        (a reconciliation sweep): its forms were read after the read-ahead's, and deciding
        the next batch on the older copies could step an order's status back."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.go.set()
            ahead.task.cancel()

    async def _read_batch_ahead(self, after: str, go: asyncio.Event) -> _Fetched:
        events, full = await self._read_pages(after)
        await go.wait()
        if not events:
            return _Fetched(events, full)
        groups = coalesce(events)
        try:
            # Not knowing yet which orders this batch imports, any unpaid one may be taken
            # as gone; `_process` reads again those that turn out to be imported.
            forms = await self._loader.load(groups, self._absent_is_gone(groups, {}))
        except AllegroError as exc:  # read when the batch runs, as if never read ahead
            log.info("checkout form read-ahead failed", extra={"error": str(exc)})
            return _Fetched(events, full)
        return _Fetched(events, full, forms)

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

    async def _process(
        self,
        groups: list[FormEvents],
        records: Mapping[str, OrderRecord],
        ahead: _ReadAhead | None = None,
    ) -> _Work:
        loaded = await self._load(groups, records, ahead)
        work = _Work()
        for group, result in zip(groups, loaded, strict=True):
            if isinstance(result, CheckoutFormNotFound):
                # Merged into a new order (which gets its own events) or past retention.
                log.info("checkout form gone", extra={"checkout_form_id": group.checkout_form_id})
                work.gone.append(group.checkout_form_id)
            elif isinstance(result, UnreadableCheckoutForm):
                work.failures.append(_Failure(group, result.raw, result.reason))
            else:
                self._decide(group, result, records.get(group.checkout_form_id), work)
        return work

    async def _load(
        self,
        groups: list[FormEvents],
        records: Mapping[str, OrderRecord],
        ahead: _ReadAhead | None,
    ) -> list[Loaded]:
        """The groups' forms: read now, or read ahead. Read ahead, an order was taken as gone
        on the strength of an absence without knowing whether it had been imported: such an
        order, imported after all, is read again now."""
        gone_if_absent = self._absent_is_gone(groups, records)
        if ahead is None:
            return (await self._loader.load(groups, gone_if_absent)).results
        again = [g for g in groups if g.checkout_form_id in ahead.absent - gone_if_absent]
        results = {g.checkout_form_id: ahead.results[g.checkout_form_id] for g in groups}
        if again:
            reread = await self._loader.load(again, gone_if_absent)
            results.update(zip((g.checkout_form_id for g in again), reread.results, strict=True))
        return [results[g.checkout_form_id] for g in groups]

    def _absent_is_gone(
        self, groups: list[FormEvents], records: Mapping[str, OrderRecord]
    ) -> set[str]:
        """Orders a complete listing may vouch gone (see `form_loader`): never imported, and
        only BOUGHT / FILLED_IN events in this batch, while imports wait for payment."""
        if self._policy.trigger is not ImportTrigger.READY_FOR_PROCESSING:
            return set()
        return {
            g.checkout_form_id
            for g in groups
            if g.checkout_form_id not in records and g.before_payment()
        }

    def _decide(
        self, group: FormEvents, order: OrderSnapshot, record: OrderRecord | None, work: _Work
    ) -> None:
        revelation = group.revelation(order.revision, self._policy.trigger)
        try:
            decision = self._policy.decide(order, record, revelation)
        except Exception as exc:  # see `decision_error`: one form never stops the account
            failure = _Failure(group, describe(order), decision_error(exc), parsed=True)
            work.failures.append(failure)
            return
        work.events.extend(decision.events)
        if decision.record is not None:
            work.records.append(decision.record)
        work.succeeded.append(order.id)

    async def _account_failures(
        self, failures: list[_Failure]
    ) -> tuple[list[DeadLetter], list[str]]:
        dead: list[DeadLetter] = []
        pending: list[str] = []
        for failure in failures:
            form_id = failure.form.checkout_form_id
            attempts = await self._state.record_failure(self.account, form_id, failure.error)
            log.warning(
                "checkout form cannot be mapped",
                extra={"checkout_form_id": form_id, "attempts": attempts, "error": failure.error},
            )
            if attempts < self._settings.max_attempts:
                pending.append(form_id)
                continue
            dead.append(
                DeadLetter(
                    account=self.account,
                    checkout_form_id=form_id,
                    allegro_event_id=failure.form.events[-1].id,
                    raw_payload=await self._body(failure),
                    error=failure.error,
                    attempts=attempts,
                    failed_at=self._clock.now(),
                )
            )
        return dead, pending

    async def _body(self, failure: _Failure) -> str:
        """Allegro's own body for a form that parsed but could not be mapped: one more read,
        once per quarantined order. Not found any more: the parsed form is all there is."""
        if not failure.parsed:
            return failure.raw
        try:
            return await self._forms.get_raw(failure.form.checkout_form_id)
        except (CheckoutFormNotFound, AllegroRejected, MalformedBody):
            return failure.raw


def _quiet(task: asyncio.Task[_Fetched]) -> None:
    """A read-ahead nobody awaits (the cursor went elsewhere, or the service stopped) must
    not log "exception was never retrieved": whoever needs that page reads it again."""
    if not task.cancelled():
        task.exception()
