"""Reading the checkout forms a batch points at, in as few requests as Allegro allows.

One `GET /order/checkout-forms/{id}` per order caps an import at the client's request
budget (150 a minute is 2.5 orders a second). A page of `GET /order/checkout-forms` holds
100 full forms, so orders that cluster in purchase time are read through pages instead:

- the batch's orders are clustered by their purchase time (from the journal events), split
  where purchases lie more than `max_gap` apart, so a few old orders never stretch a window
  over months; a cluster of fewer than `min_orders` orders is read one by one;
- each cluster is paged as one purchase-time window, oldest first, and paging stops
  as soon as the pages left would cost more than reading the orders left one by one;
- a listed form is used only when it is vouched for (see `window_reads.vouched`);
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
from application.ports.allegro import LIST_PAGE_SIZE, CheckoutFormReader, Loaded
from application.window_reads import Wanted, WindowReading

log = logging.getLogger(__name__)

MIN_ORDERS = 4  # a trickle of 1-3 orders is cheaper read one by one
MAX_GAP = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class LoadedForms:
    """One result per group, in the groups' order, and what reading them cost."""

    results: list[Loaded]
    list_requests: int
    listed: int  # forms taken from this batch's list pages
    single_reads: int
    absent: frozenset[str] = frozenset()  # not on a complete listing: not found, unread


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
        read = WindowReading(
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

    def _clusters(self, groups: Sequence[FormEvents]) -> list[list[Wanted]]:
        """Groups with a purchase time and a revision to check, clustered by purchase time."""
        wanted = sorted(
            (
                Wanted(group, bought)
                for group in groups
                if (bought := _bought_at(group)) is not None
                and group.events[-1].revision is not None
            ),
            key=lambda w: w.bought_at,
        )
        clusters: list[list[Wanted]] = []
        for item in wanted:
            if clusters and item.bought_at - clusters[-1][-1].bought_at <= self._max_gap:
                clusters[-1].append(item)
            else:
                clusters.append([item])
        return [cluster for cluster in clusters if len(cluster) >= self._min_orders]


def _bought_at(group: FormEvents) -> datetime | None:
    known = [event.bought_at for event in group.events if event.bought_at is not None]
    return max(known) if known else None
