"""Reading one purchase-time window of checkout forms through list pages, for `form_loader`:
which listed copies may stand in for a single read (`vouched`), and the pages of one window
(`WindowReading`), each form either vouched for, proved absent, or left to a single read."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.coalesce import FormEvents
from application.ports.allegro import (
    LIST_OFFSET_WINDOW,
    CheckoutFormPage,
    CheckoutFormQuery,
    CheckoutFormReader,
    JournalEvent,
    Loaded,
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

# The purchase-time filter goes out with millisecond precision: reach the end of the last
# millisecond so that a sub-millisecond purchase time is still inside the window.
_LAST_MILLISECOND = timedelta(microseconds=999)


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
class Wanted:
    group: FormEvents
    bought_at: datetime

    @property
    def id(self) -> str:
        return self.group.checkout_form_id


class WindowReading:
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

    async def window(self, cluster: list[Wanted]) -> None:
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
