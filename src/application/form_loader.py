"""Reading the checkout forms a batch points at, in as few requests as Allegro allows.

One `GET /order/checkout-forms/{id}` per order caps an import at the client's request
budget (150 a minute is 2.5 orders a second). A page of `GET /order/checkout-forms` holds
100 full forms, so orders that cluster in purchase time are read through pages instead:

- the batch's orders are clustered by their purchase time (from the journal events), split
  where purchases lie more than `max_gap` apart, so a few old orders never stretch a window
  over months; a cluster of fewer than `min_orders` orders is read one by one;
- each cluster is paged as one purchase-time window, oldest first, and paging stops
  as soon as the pages left would cost more than reading the orders left one by one;
- a listed form is used only when it is vouched for (see `vouched`);
- a copy listed for one batch is not reused by the next, even when the next batch's events
  carry its revision: a late event with an older revision makes an outdated copy pass any
  such check (the crash test caught the resulting status flip), so overlapping windows of
  consecutive batches are listed again;
- every order the pages did not cover or vouch for is read on its own, exactly as without
  bulk reads: a form merged away is not listed and its single read answers 404; an unreadable
  list item is read again on its own and takes the poison path (retry, then dead letter);
- except an order the caller names in `absent_is_gone`: one never imported whose events in
  the batch cannot trigger an import (BOUGHT, FILLED_IN). When every page of its window was
  read and it was not on them, it is taken as not found (merged away) without a single
  read. Nothing is lost even if the listing was wrong: such an order publishes nothing from
  this batch, and its payment brings a READY_FOR_PROCESSING event of its own later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.coalesce import FormEvents
from application.ports.allegro import (
    LIST_OFFSET_WINDOW,
    LIST_PAGE_SIZE,
    CheckoutFormPage,
    CheckoutFormQuery,
    CheckoutFormReader,
    JournalEvent,
    UnreadableCheckoutForm,
)
from application.ports.errors import (
    AllegroRejected,
    CheckoutFormNotFound,
    MalformedBody,
    MalformedCheckoutForm,
)
from domain.order import OrderSnapshot

log = logging.getLogger(__name__)

MIN_ORDERS = 4  # a trickle of 1-3 orders is cheaper read one by one
MAX_GAP = timedelta(hours=1)
# The purchase-time filter goes out with millisecond precision: reach the end of the last
# millisecond so that a sub-millisecond purchase time is still inside the window.
_LAST_MILLISECOND = timedelta(microseconds=999)

Loaded = OrderSnapshot | CheckoutFormNotFound | UnreadableCheckoutForm


@dataclass(frozen=True, slots=True)
class LoadedForms:
    """One result per group, in the groups' order, and what reading them cost."""

    results: list[Loaded]
    list_requests: int
    listed: int  # forms taken from this batch's list pages
    single_reads: int
    absent: frozenset[str] = frozenset()  # not on a complete listing: not found, unread


def vouched(listed: OrderSnapshot, group: FormEvents) -> bool:
    """Is the listed copy at least as new as the batch says the order is?

    Either it carries the newest revision the batch shows (see `_newest_shown`), or it shows
    a buyer-side change (`updatedAt`) made after every event of the batch for the order.
    Seller-side changes move the revision but not `updatedAt` (docs/allegro-api.md, Checkout
    form), so a copy
    older than one of the batch's events can pass neither test: its `updatedAt` is at most
    that of the version the event reported, which is not later than the event itself.
    """
    if _newest_shown(listed.revision, group.events):
        return True
    updated = listed.updated_at
    return updated is not None and all(updated > event.occurred_at for event in group.events)


def _newest_shown(revision: str | None, events: Sequence[JournalEvent]) -> bool:
    """Is `revision` the newest revision among the events? Revisions are opaque, so another
    revision counts as older only when it was first reported before `revision` was in the
    journal and not later in time; so must be an event without a revision.
    Events after it may repeat older revisions: Allegro delivers a payment's
    READY_FOR_PROCESSING late, after the cancellation, still carrying the paid revision."""
    first: dict[str, tuple[int, datetime]] = {}
    for index, event in enumerate(events):
        if event.revision is not None:
            first.setdefault(event.revision, (index, event.occurred_at))
    if revision is None or revision not in first:
        return False
    born, at = first[revision]

    def older(index: int, event: JournalEvent) -> bool:
        seen, when = (index, event.occurred_at) if event.revision is None else first[event.revision]
        return seen < born and when <= at

    return all(event.revision == revision or older(i, event) for i, event in enumerate(events))


@dataclass(frozen=True, slots=True)
class _Wanted:
    group: FormEvents
    bought_at: datetime

    @property
    def id(self) -> str:
        return self.group.checkout_form_id


class FormLoader:
    def __init__(
        self,
        forms: CheckoutFormReader,
        *,
        concurrency: int = 8,
        bulk: bool = True,
        min_orders: int = MIN_ORDERS,
        max_gap: timedelta = MAX_GAP,
        page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        if concurrency < 1 or min_orders < 1 or not 1 <= page_size <= LIST_PAGE_SIZE:
            raise ValueError("concurrency, min_orders and page_size must be positive")
        self._forms = forms
        self._concurrency = concurrency
        self._bulk = bulk
        self._min_orders = min_orders
        self._max_gap = max_gap
        self._page_size = page_size

    async def load(
        self, groups: Sequence[FormEvents], absent_is_gone: Collection[str] = ()
    ) -> LoadedForms:
        """Raises outage errors (`AllegroUnavailable`, ...) as a single read would.
        `absent_is_gone`: ids for which missing from a complete listing counts as a 404."""
        read = _Reading(
            self._forms,
            asyncio.Semaphore(self._concurrency),
            page_size=self._page_size,
            wave=self._concurrency,
            min_orders=self._min_orders,
            absent_is_gone=absent_is_gone,
        )
        clusters = self._clusters(groups) if self._bulk else []
        clustered = {w.id for cluster in clusters for w in cluster}
        alone = [g.checkout_form_id for g in groups if g.checkout_form_id not in clustered]
        # Orders that no window covers are read while the windows are paged.
        alone_read, _ = await asyncio.gather(
            asyncio.gather(*(read.single(form_id) for form_id in alone)),
            asyncio.gather(*(read.window(cluster) for cluster in clusters)),
        )
        missed = [
            w.id
            for cluster in clusters
            for w in cluster
            if w.id not in read.found and w.id not in read.absent
        ]
        missed_read = await asyncio.gather(*(read.single(form_id) for form_id in missed))
        found: dict[str, Loaded] = {
            **read.found,
            **read.absent,
            **dict(zip(alone, alone_read, strict=True)),
            **dict(zip(missed, missed_read, strict=True)),
        }
        outcome = LoadedForms(
            results=[found[g.checkout_form_id] for g in groups],
            list_requests=read.list_requests,
            listed=len(read.found),
            single_reads=len(alone) + len(missed),
            absent=frozenset(read.absent),
        )
        log.debug(
            "checkout forms read",
            extra={
                "orders": len(groups),
                "list_requests": outcome.list_requests,
                "listed": outcome.listed,
                "single_reads": outcome.single_reads,
                "absent": len(outcome.absent),
            },
        )
        return outcome

    def paged(self, groups: Sequence[FormEvents]) -> set[str]:
        """The orders `load` would look for on list pages (the others it reads one by one)."""
        clusters = self._clusters(groups) if self._bulk else []
        return {wanted.id for cluster in clusters for wanted in cluster}

    def _clusters(self, groups: Sequence[FormEvents]) -> list[list[_Wanted]]:
        """Groups with a purchase time and a revision to check, clustered by purchase time."""
        wanted = sorted(
            (
                _Wanted(group, bought)
                for group in groups
                if (bought := _bought_at(group)) is not None
                and group.events[-1].revision is not None
            ),
            key=lambda w: w.bought_at,
        )
        clusters: list[list[_Wanted]] = []
        for item in wanted:
            if clusters and item.bought_at - clusters[-1][-1].bought_at <= self._max_gap:
                clusters[-1].append(item)
            else:
                clusters.append([item])
        return [cluster for cluster in clusters if len(cluster) >= self._min_orders]


class _Reading:
    """One `load`: the forms found on list pages, and how many list requests it took."""

    def __init__(
        self,
        forms: CheckoutFormReader,
        semaphore: asyncio.Semaphore,
        *,
        page_size: int,
        wave: int,
        min_orders: int,
        absent_is_gone: Collection[str] = (),
    ) -> None:
        self._forms = forms
        self._absent_is_gone = absent_is_gone
        self._semaphore = semaphore
        self._page_size = page_size
        self._wave = wave
        self._min_orders = min_orders
        self.found: dict[str, OrderSnapshot] = {}  # vouched for an order of this batch
        self.absent: dict[str, CheckoutFormNotFound] = {}  # see `absent_is_gone`
        self._on_pages: set[str] = set()  # every id on the pages, readable or not
        self._nameless = False  # an unreadable item without an id: absence proves nothing
        self.list_requests = 0

    async def single(self, checkout_form_id: str) -> Loaded:
        async with self._semaphore:
            try:
                return await self._forms.get(checkout_form_id)
            except CheckoutFormNotFound as gone:
                return gone
            except MalformedCheckoutForm as exc:
                return exc.unreadable

    async def window(self, cluster: list[_Wanted]) -> None:
        """Page one purchase-time window; what it does not vouch for is left to single reads."""
        pending = {w.id: w.group for w in cluster}
        low, high = cluster[0].bought_at, cluster[-1].bought_at + _LAST_MILLISECOND
        size = self._page_size
        # The window lists at least the cluster's own orders: those pages are needed anyway.
        offsets = list(range(0, min(len(cluster), LIST_OFFSET_WINDOW), size))
        try:
            pages = await self._pages(low, high, offsets, pending)
            total = pages[0].total_count
            reachable = min(total, LIST_OFFSET_WINDOW)
            offsets = list(range(offsets[-1] + size, reachable, size))
            # Stop once the pages left cost at least what reading the rest singly would.
            while offsets and len(offsets) < len(pending):
                wave, offsets = offsets[: self._wave], offsets[self._wave :]
                await self._pages(low, high, wave, pending)
        except (AllegroRejected, MalformedBody) as exc:
            # A page that cannot be read (one hostile form fails the whole page) must not
            # hold the batch: read singly, each bad form takes the poison path on its own.
            log.warning("checkout form list unusable, reading singly", extra={"error": str(exc)})
            return
        # Past Allegro's 10 000 offset window, what is left gets a narrower window of its own.
        beyond = [w for w in cluster if w.id in pending]
        cut_off = not offsets and total > reachable
        if not offsets and not cut_off:  # every form bought in the window has been listed
            for wanted in beyond:
                if wanted.id in self._absent_is_gone and not self._listed_somehow(wanted.id):
                    self.absent[wanted.id] = CheckoutFormNotFound(wanted.id)
        if cut_off and self._min_orders <= len(beyond) < len(cluster):
            await self.window(beyond)

    async def _pages(
        self, low: datetime, high: datetime, offsets: list[int], pending: dict[str, FormEvents]
    ) -> list[CheckoutFormPage]:
        wanted = frozenset(pending)
        pages = await asyncio.gather(*(self._page(low, high, offset, wanted) for offset in offsets))
        for page in pages:
            self._take(page, pending)
        return pages

    async def _page(
        self, low: datetime, high: datetime, offset: int, wanted: frozenset[str]
    ) -> CheckoutFormPage:
        async with self._semaphore:
            self.list_requests += 1
            return await self._forms.search(
                CheckoutFormQuery(
                    offset=offset,
                    limit=self._page_size,
                    bought_at_gte=low,
                    bought_at_lte=high,
                    order="oldest_first",  # new purchases append at the end
                ),
                wanted=wanted,  # the window's other forms need not be translated
            )

    def _listed_somehow(self, checkout_form_id: str) -> bool:
        return self._nameless or checkout_form_id in self._on_pages

    def _take(self, page: CheckoutFormPage, pending: dict[str, FormEvents]) -> None:
        for item in page.items:
            if isinstance(item, UnreadableCheckoutForm):
                # read again on its own: the same poison path as any single read
                if item.checkout_form_id is None:
                    self._nameless = True
                else:
                    self._on_pages.add(item.checkout_form_id)
                continue
            self._on_pages.add(item.id)
            group = pending.get(item.id)
            if group is not None and vouched(item, group):
                self.found[item.id] = item
                del pending[item.id]


def _bought_at(group: FormEvents) -> datetime | None:
    known = [event.bought_at for event in group.events if event.bought_at is not None]
    return max(known) if known else None
