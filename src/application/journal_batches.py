"""Where the journal path's batches come from: journal pages after the cursor, and the
checkout forms they point at, with the next batch read ahead while this one is published.

A full batch means more is waiting: the next batch's journal pages are read at once, and
its checkout forms as soon as this batch's own forms are read (while this one is decided,
published and committed). It is only a head start, and its invalidation rule is this
module's own, so no caller has to remember anything: what was read ahead is used only
when the next batch starts exactly where it was read from, and no batch was committed
beside the journal (a sweep, a retry: `BatchPipeline.side_commits`) since it was started.
Such a batch may have recorded forms read after the ones read ahead, and deciding on the
older copies could step an order's status back. Whatever is not used is read again; a
read-ahead's error is never lost (the batch reads again as if nothing was read ahead).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from application.coalesce import FormEvents, coalesce
from application.form_loader import FormLoader, LoadedForms
from application.ports.allegro import LIST_PAGE_SIZE, JournalEvent, Loaded, OrderEventJournal
from application.ports.errors import AllegroError
from application.slices import Slice, slices
from domain.policy import ImportTrigger, OrderRecord

log = logging.getLogger(__name__)


def gone_if_absent(
    groups: Sequence[FormEvents], imported: Collection[str], trigger: ImportTrigger
) -> set[str]:
    """Orders a complete listing may vouch gone (see `form_loader`): never imported, and
    only BOUGHT / FILLED_IN events in this batch, while imports wait for payment."""
    if trigger is not ImportTrigger.READY_FOR_PROCESSING:
        return set()
    return {
        g.checkout_form_id
        for g in groups
        if g.checkout_form_id not in imported and g.before_payment()
    }


@dataclass(frozen=True, slots=True)
class _Pages:
    events: list[JournalEvent]
    full: bool  # the last page was full: more may be waiting
    forms: LoadedForms | None = None  # read ahead, one per group of `coalesce(events)`


@dataclass(slots=True)
class _Ahead:
    after: str  # the event id the pages were read after
    side_commits: int  # `side_commits` when it was started
    task: asyncio.Task[_Pages]
    go: asyncio.Event  # set once the current batch's own forms are read


class JournalBatch:
    """One batch: its events, their orders, and the orders' forms (read ahead or now)."""

    def __init__(
        self,
        pages: _Pages,
        loader: FormLoader,
        trigger: ImportTrigger,
        next_ahead: _Ahead | None,
    ) -> None:
        self.events = pages.events
        self.full = pages.full
        self.groups = coalesce(pages.events)
        self._loader = loader
        self._trigger = trigger
        self._next = next_ahead
        self._unread = {g.checkout_form_id for g in self.groups}
        self._ahead: dict[str, Loaded] | None = None
        self._absent: frozenset[str] = frozenset()
        if pages.forms is not None:
            ids = (g.checkout_form_id for g in self.groups)
            self._ahead = dict(zip(ids, pages.forms.results, strict=True))
            self._absent = pages.forms.absent

    def slices(self, requests: float) -> list[Slice]:
        """The batch's commit units, about `requests` reads each (see `slices`). A batch
        read ahead costs nothing more, and one of fewer orders than a slice may cost is one
        slice: no clustering for a trickle."""
        if self._ahead is not None or len(self.groups) <= requests:
            return [Slice(self.groups, len(self.events))]
        paged = self._loader.paged(self.groups)
        share = 1.0 / LIST_PAGE_SIZE

        def cost(group: FormEvents) -> float:
            return share if group.checkout_form_id in paged else 1.0

        return slices(self.events, self.groups, cost, requests)

    async def load(
        self, groups: list[FormEvents], records: Mapping[str, OrderRecord]
    ) -> list[Loaded]:
        """The forms of `groups` (some of this batch's), read now or taken from what was read
        ahead. Read ahead, an order was taken as gone on the strength of an absence without
        knowing whether it had been imported: such an order, imported after all, is read
        again now. Once every form of the batch is read, the next batch's forms may be."""
        gone = gone_if_absent(groups, records, self._trigger)
        if self._ahead is None:
            results = (await self._loader.load(groups, gone)).results
        else:
            again = [g for g in groups if g.checkout_form_id in self._absent - gone]
            by_id = {g.checkout_form_id: self._ahead[g.checkout_form_id] for g in groups}
            if again:
                reread = await self._loader.load(again, gone)
                by_id.update(zip((g.checkout_form_id for g in again), reread.results, strict=True))
            results = [by_id[g.checkout_form_id] for g in groups]
        self._unread.difference_update(g.checkout_form_id for g in groups)
        if not self._unread and self._next is not None:
            self._next.go.set()  # this batch's forms are read: the next batch's now
        return results

    def abandon(self) -> None:
        """The cursor will not reach this batch's end: stop reading the next one ahead (it
        would not be used; see the module docstring). Only saves requests."""
        if self._next is not None:
            self._next.go.set()
            self._next.task.cancel()


class JournalBatches:
    def __init__(
        self,
        journal: OrderEventJournal,
        loader: FormLoader,
        trigger: ImportTrigger,
        side_commits: Callable[[], int],
        *,
        batch_size: int,
        pages_per_batch: int = 1,
    ) -> None:
        self._journal = journal
        self._loader = loader
        self._trigger = trigger
        self._side_commits = side_commits
        self._batch_size = batch_size
        self._pages_per_batch = pages_per_batch
        self._ahead: _Ahead | None = None

    async def latest_event_id(self) -> str | None:
        return await self._journal.latest_event_id()

    async def next(self, position: str | None) -> JournalBatch:
        """The batch after `position`: the one read ahead when it is still good (module
        docstring), else read now. A full batch starts the next one's read-ahead."""
        pages = await self._take_ahead(position)
        if pages is None:
            pages = _Pages(*await self._read_pages(position))
        next_ahead = None
        if pages.full and pages.events:
            next_ahead = self._start(pages.events[-1].id)
        return JournalBatch(pages, self._loader, self._trigger, next_ahead)

    def _cancel_ahead(self) -> None:
        """Drops what is being read ahead (a new read-ahead replaces it)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.go.set()
            ahead.task.cancel()

    async def _take_ahead(self, position: str | None) -> _Pages | None:
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if ahead.after != position or ahead.side_commits != self._side_commits():
            ahead.go.set()
            ahead.task.cancel()
            return None
        ahead.go.set()
        try:
            return await ahead.task
        except AllegroError as exc:  # read them again now, as if never read ahead
            log.info("journal read-ahead failed", extra={"error": str(exc)})
            return None
        except asyncio.CancelledError:
            if ahead.task.cancelled() and not _cancelling():
                return None  # the batch before was abandoned: read again now
            raise

    def _start(self, after: str) -> _Ahead:
        self._cancel_ahead()
        go = asyncio.Event()
        task = asyncio.create_task(self._read_ahead(after, go))
        task.add_done_callback(_quiet)
        self._ahead = _Ahead(after, self._side_commits(), task, go)
        return self._ahead

    async def _read_pages(self, position: str | None) -> tuple[list[JournalEvent], bool]:
        """Up to `pages_per_batch` journal pages while they come back full (a backlog), and
        whether the last one was full. One batch reads an order once, however many of its
        events the pages hold: bigger batches during a backlog read each order fewer times."""
        size = self._batch_size
        events = list(await self._journal.fetch(position, size))
        full = len(events) >= size
        pages = 1
        while full and pages < self._pages_per_batch:
            page = await self._journal.fetch(events[-1].id, size)
            events.extend(page)
            full = len(page) >= size
            pages += 1
        return events, full

    async def _read_ahead(self, after: str, go: asyncio.Event) -> _Pages:
        events, full = await self._read_pages(after)
        await go.wait()
        if not events:
            return _Pages(events, full)
        groups = coalesce(events)
        try:
            # Not knowing yet which orders this batch imports, any unpaid one may be taken
            # as gone; `JournalBatch.load` reads again those that turn out to be imported.
            forms = await self._loader.load(groups, gone_if_absent(groups, (), self._trigger))
        except AllegroError as exc:  # read when the batch runs, as if never read ahead
            log.info("checkout form read-ahead failed", extra={"error": str(exc)})
            return _Pages(events, full)
        return _Pages(events, full, forms)


def _cancelling() -> bool:
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


def _quiet(task: asyncio.Task[_Pages]) -> None:
    """A read-ahead nobody awaits (the cursor went elsewhere, or the service stopped) must
    not log "exception was never retrieved": whoever needs that page reads it again."""
    if not task.cancelled():
        task.exception()
