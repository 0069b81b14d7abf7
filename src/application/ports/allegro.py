"""What the use cases need from Allegro: the order event journal and checkout forms."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from application.ports.errors import CheckoutFormNotFound
from domain.order import OrderSnapshot


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """One `/order/events` entry: only a pointer; the checkout form is the truth."""

    id: str
    type: str  # kept as a string: Allegro adds event types
    occurred_at: datetime
    checkout_form_id: str | None
    revision: str | None
    # The order's purchase time as the event shows it (latest `lineItems[].boughtAt`): where
    # to look for the form in `GET /order/checkout-forms`. None when the event has none.
    bought_at: datetime | None = None
    # Why the entry is not Allegro's (an order id or type of another shape): it names no
    # order to read (`checkout_form_id` is None) and is quarantined as it is, with `raw`.
    malformed: str | None = None
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class UnreadableCheckoutForm:
    """A checkout form whose body could not be turned into a snapshot."""

    checkout_form_id: str | None
    raw: str
    reason: str


# What reading one checkout form gives: the form, its absence (merged into another order, or
# past retention), or a body that cannot be turned into a snapshot.
Loaded = OrderSnapshot | CheckoutFormNotFound | UnreadableCheckoutForm

JOURNAL_PAGE_SIZE = 1000  # `GET /order/events`: at most 1000 events a page
LIST_PAGE_SIZE = 100  # `GET /order/checkout-forms`: at most 100 forms a page
LIST_OFFSET_WINDOW = 10_000  # ... and offset + limit must not exceed 10 000


# Which way a page of checkout forms runs in purchase time. Oldest first keeps the pages of a
# window still to read in place while new purchases append at its end.
PurchaseOrder = Literal["oldest_first", "newest_first"]


@dataclass(frozen=True, slots=True)
class CheckoutFormQuery:
    """One page of the checkout forms that match these filters, in purchase-time `order`
    (offset + limit must stay within LIST_OFFSET_WINDOW; slice by purchase time beyond it)."""

    offset: int = 0
    limit: int = LIST_PAGE_SIZE
    status: str | None = None
    fulfillment_status: str | None = None
    bought_at_gte: datetime | None = None
    bought_at_lte: datetime | None = None
    updated_at_gte: datetime | None = None
    updated_at_lte: datetime | None = None
    order: PurchaseOrder = "newest_first"


@dataclass(frozen=True, slots=True)
class CheckoutFormPage:
    items: tuple[OrderSnapshot | UnreadableCheckoutForm, ...]
    total_count: int


class OrderEventJournal(Protocol):
    async def fetch(self, after: str | None, limit: int) -> Sequence[JournalEvent]:
        """Events after `after` (exclusive; None = the oldest retained), ascending."""
        ...

    async def latest_event_id(self) -> str | None:
        """The newest event id (`/order/event-stats`), or None when there is none."""
        ...


class CheckoutFormReader(Protocol):
    async def get(self, checkout_form_id: str) -> OrderSnapshot:
        """Raises CheckoutFormNotFound, MalformedCheckoutForm, or an outage error."""
        ...

    async def search(
        self, query: CheckoutFormQuery, *, wanted: Collection[str] | None = None
    ) -> CheckoutFormPage:
        """The page `query` names. With `wanted`, the caller needs only those forms: the
        reader may leave the page's others out, untranslated (an item whose id cannot be
        read stays); `total_count` still counts every form the filters match."""
        ...

    async def get_raw(self, checkout_form_id: str) -> str:
        """The body Allegro sends for the form, as is (for the dead-letter topic)."""
        ...
