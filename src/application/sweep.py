"""Use case: sweep `GET /order/checkout-forms` through the same idempotent decision path.

Used for `backfill --since`, for repairing a cursor older than the journal's retention, and
for the periodic light sweep that catches silent holes in the journal. Windows are sliced by
purchase time, halving any window that matches more than the 10 000 orders offset
paging can reach (docs/allegro-api.md, Checkout form list). Pages are sorted oldest first,
so orders bought during the sweep append at the end instead of shifting the pages still to
read.

Each page goes through the same batch pipeline as a journal batch (`application.pipeline`):
decided, staged without a cursor, sent, committed. A sweep first re-sends whatever an
interruption left staged (a page of its own or a journal batch), so it decides on committed
records only and never replaces a staged batch that was not sent.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from application.pipeline import BatchPipeline, Delivery, Revealed
from application.ports.allegro import (
    LIST_OFFSET_WINDOW,
    LIST_PAGE_SIZE,
    CheckoutFormPage,
    CheckoutFormQuery,
    CheckoutFormReader,
    Loaded,
    UnreadableCheckoutForm,
)
from application.ports.errors import CheckoutFormNotFound, MalformedBody, MalformedCheckoutForm
from application.ports.publisher import DeadLetter

log = logging.getLogger(__name__)

MIN_SLICE = timedelta(seconds=1)

Progress = Callable[[int, int], None]  # (orders seen so far, orders expected so far)


@dataclass(slots=True)
class SweepOutcome:
    """Counts, not the events themselves: a 100 000-order backfill must run in flat memory."""

    seen: int = 0
    published_by_type: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    pending_failures: int = 0
    unreadable_pages: int = 0  # list pages a hostile body made unreadable (window skipped)
    requests: int = 0
    resent: int = 0  # messages of a batch staged before an interruption, sent again

    @property
    def published(self) -> int:
        return sum(self.published_by_type.values())


@dataclass(frozen=True, slots=True)
class RetryResult:
    """What re-running one checkout form through the sweep's path did with it."""

    checkout_form_id: str
    published: int = 0  # events published for it (0: decided, nothing new to say)
    gone: bool = False  # 404: merged into another order, or past Allegro's 12 months
    error: str | None = None  # still failing (None: decided)
    attempts: int = 0  # failed attempts counted so far, when still failing
    quarantined: bool = False  # still failing, and dead-lettered again

    @property
    def decided(self) -> bool:
        return not self.gone and self.error is None


class SweepCheckoutForms:
    def __init__(
        self,
        forms: CheckoutFormReader,
        pipeline: BatchPipeline,
        page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        if not 1 <= page_size <= LIST_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{LIST_PAGE_SIZE} (Allegro's limit)")
        self._forms = forms
        self._pipeline = pipeline
        self._page_size = page_size

    @property
    def account(self) -> str:
        return self._pipeline.account

    async def run(
        self, since: datetime, until: datetime, progress: Progress | None = None
    ) -> SweepOutcome:
        """Every order bought in [since, until] goes through the decision path once."""
        outcome = SweepOutcome()
        staged = await self._pipeline.resend_staged()
        if staged is not None:
            outcome.resent = len(staged.messages)
        expected = 0
        windows = [(since, until)]
        while windows:
            low, high = windows.pop()
            first = await self._page(low, high, 0, outcome)
            if first.total_count + self._page_size > LIST_OFFSET_WINDOW and high - low > MIN_SLICE:
                middle = low + (high - low) / 2
                windows += [(middle, high), (low, middle)]  # low half is popped first
                continue
            expected += first.total_count
            await self._handle(first, outcome)
            self._report(progress, outcome, expected)
            offset = self._page_size
            reachable = min(first.total_count, LIST_OFFSET_WINDOW - self._page_size)
            while offset < reachable:
                page = await self._page(low, high, offset, outcome)
                await self._handle(page, outcome)
                self._report(progress, outcome, expected)
                if len(page.items) < self._page_size:
                    break
                offset += self._page_size
        log.info(
            "sweep finished",
            extra={
                "account": self.account,
                "orders": outcome.seen,
                "published": outcome.published,
                "requests": outcome.requests,
            },
        )
        return outcome

    async def retry(self, checkout_form_ids: Sequence[str]) -> list[RetryResult]:
        """Each form read again from Allegro (one GET each) and run through the sweep's path:
        decide, publish, commit, with deterministic event ids, so an order that was imported
        meanwhile gets nothing twice. A failure counts one more attempt (dead-lettered again
        at `max_attempts`); a form Allegro no longer has is gone, its failure count and
        quarantine entry dropped. An outage raises: nothing of the page is committed."""
        staged = await self._pipeline.resend_staged()
        if staged is not None:
            log.info("a batch staged before an interruption was re-sent first")
        ids = list(dict.fromkeys(checkout_form_ids))
        results: list[RetryResult] = []
        for start in range(0, len(ids), self._page_size):
            results += await self._retry_page(ids[start : start + self._page_size])
        return results

    async def _retry_page(self, ids: list[str]) -> list[RetryResult]:
        items: list[Revealed] = []
        for form_id in ids:
            form: Loaded
            try:
                form = await self._forms.get(form_id)
            except CheckoutFormNotFound as exc:
                form = exc
            except MalformedCheckoutForm as exc:
                form = UnreadableCheckoutForm(form_id, exc.unreadable.raw, exc.unreadable.reason)
            items.append(Revealed(form_id, form))
        delivery = await self._deliver(items, SweepOutcome())  # one commit, gone ones included
        dead = {letter.checkout_form_id for letter in delivery.dead_letters}
        published = Counter(event.external_id for event in delivery.events)
        results = []
        for form_id in ids:
            if form_id in delivery.gone:
                results.append(RetryResult(form_id, gone=True))
            elif form_id in delivery.failed:
                error, attempts = delivery.failed[form_id]
                results.append(
                    RetryResult(
                        form_id, error=error, attempts=attempts, quarantined=form_id in dead
                    )
                )
            else:
                results.append(RetryResult(form_id, published=published[form_id]))
        return results

    async def _page(
        self, low: datetime, high: datetime, offset: int, outcome: SweepOutcome
    ) -> CheckoutFormPage:
        outcome.requests += 1
        query = CheckoutFormQuery(
            offset=offset,
            limit=self._page_size,
            bought_at_gte=low,
            bought_at_lte=high,
            order="oldest_first",
        )
        try:
            return await self._forms.search(query)
        except MalformedBody as exc:
            # One hostile form fails its whole page. A sweep is a repair: the rest of this
            # window is left to the journal and the next sweep, and the account goes on
            # (a sweep that failed would be tried again before every batch, holding them).
            log.warning(
                "checkout form page unreadable, rest of the sweep window skipped",
                extra={"account": self.account, "offset": offset, "error": str(exc)},
            )
            outcome.unreadable_pages += 1
            return CheckoutFormPage(items=(), total_count=0)

    async def _handle(self, page: CheckoutFormPage, outcome: SweepOutcome) -> None:
        items = []
        for item in page.items:
            form_id = item.checkout_form_id if isinstance(item, UnreadableCheckoutForm) else item.id
            if not form_id:
                log.warning(
                    "unreadable checkout form without an id skipped",
                    extra={"error": getattr(item, "reason", "")},
                )
                continue
            items.append(Revealed(form_id, item))
        await self._deliver(items, outcome)
        outcome.seen += len(page.items)

    async def _deliver(self, items: Sequence[Revealed], outcome: SweepOutcome) -> Delivery:
        """Through the pipeline, without a cursor move: decided forms are committed, failing
        ones counted (and quarantined at the last attempt), gone ones cleared."""
        delivery = await self._pipeline.run(items)
        outcome.published_by_type.update(event.event_type for event in delivery.events)
        outcome.dead_letters += delivery.dead_letters
        outcome.pending_failures += len(delivery.pending)
        return delivery

    @staticmethod
    def _report(progress: Progress | None, outcome: SweepOutcome, expected: int) -> None:
        if progress is not None:
            progress(outcome.seen, expected)
