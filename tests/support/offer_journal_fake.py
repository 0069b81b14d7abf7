"""`FakeOfferEventJournal`: the one fake of `OfferEventJournal` (Allegro's offer event
journal and the offers it names), asserted by its state.

- `offers`: offer id -> what `GET /sale/product-offers/{id}` answers (an `OfferSnapshot`, or
  an `UnreadableOffer` for a body that cannot be read); an id missing from it answers 404
  (`OfferNotFound`); `refuse[offer_id]` makes that offer's read raise the given error.
- `entries`: the journal, oldest first; an entry older than `retention` (by `clock`) is gone,
  as in Allegro's 24 h journal. `emit` adds an event, `change` replaces an offer and emits,
  `emit_unreadable` adds an entry that names no offer.
- outages: `fail_events` / `fail_offers` (an exception: every call raises it until None).
- `listing()`: the readable offers as the listing shows them (for `FakeOfferCatalog`).
- counts: `event_reads` (each call's `after` and `limit`), `offer_reads` (each id read, in
  order), `max_in_flight` (the most offer reads under way at once).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from application.ports.clock import Clock
from application.ports.offers import (
    ListedOffer,
    OfferEvent,
    OfferEventJournal,
    OfferEventPage,
    OfferNotFound,
    UnreadableOffer,
    UnreadableOfferEvent,
)
from domain.money import Money
from domain.offers import MarketPrice, OfferSnapshot

RETENTION = timedelta(hours=24)  # Allegro keeps offer events for 24 hours
FIRST_EVENT_ID = 9_000_000_000


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One stored entry: `position` orders the journal (Allegro's ids are opaque to clients)."""

    position: str
    at: datetime
    item: OfferEvent | UnreadableOfferEvent


def make_offer(
    offer_id: str = "17000000001",
    *,
    sku: str | None = "SKU-1",
    stock: int | None = 5,
    price: str = "49.99",
    currency: str = "PLN",
    marketplace: str = "allegro-pl",
    status: str = "ACTIVE",
    ended_by: str | None = None,
    updated_at: datetime,
    extra_prices: Iterable[MarketPrice] = (),
) -> OfferSnapshot:
    return OfferSnapshot(
        offer_id=offer_id,
        sku=sku,
        stock_available=stock,
        prices=(MarketPrice(marketplace, Money(Decimal(price), currency)), *extra_prices),
        publication_status=status,
        ended_by=ended_by,
        updated_at=updated_at,
    )


class FakeOfferEventJournal(OfferEventJournal):
    def __init__(self, clock: Clock, retention: timedelta = RETENTION) -> None:
        self.clock = clock
        self.retention = retention
        self.entries: list[JournalEntry] = []
        self.offers: dict[str, OfferSnapshot | UnreadableOffer] = {}
        self.refuse: dict[str, Exception] = {}
        self.fail_events: Exception | None = None
        self.fail_offers: Exception | None = None
        self.event_reads: list[tuple[str | None, int]] = []
        self.offer_reads: list[str] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._next = FIRST_EVENT_ID

    # --- arranging -------------------------------------------------------------------

    def emit(self, offer_id: str, event_type: str = "OFFER_STOCK_CHANGED") -> OfferEvent:
        position = self._position()
        event = OfferEvent(position, self.clock.now(), event_type, offer_id)
        self.entries.append(JournalEntry(position, event.occurred_at, event))
        return event

    def change(self, offer: OfferSnapshot, event_type: str = "OFFER_STOCK_CHANGED") -> OfferEvent:
        """The offer as it is now (its `updated_at` set to the clock's now), and its event."""
        self.offers[offer.offer_id] = dataclasses.replace(offer, updated_at=self.clock.now())
        return self.emit(offer.offer_id, event_type)

    def emit_unreadable(
        self, raw: str, reason: str, *, with_id: bool = True
    ) -> UnreadableOfferEvent:
        position = self._position()
        entry = UnreadableOfferEvent(position if with_id else None, raw, reason)
        self.entries.append(JournalEntry(position, self.clock.now(), entry))
        return entry

    def listing(self) -> list[ListedOffer]:
        """The readable offers as `GET /sale/offers` lists them (for a `FakeOfferCatalog`)."""
        return [
            ListedOffer(o.offer_id, o.sku, o.stock_available, o.prices, o.publication_status)
            for o in self.offers.values()
            if isinstance(o, OfferSnapshot)
        ]

    def _position(self) -> str:
        self._next += 1
        return str(self._next)

    # --- the port --------------------------------------------------------------------

    async def events(self, after: str | None, limit: int) -> OfferEventPage:
        self.event_reads.append((after, limit))
        if self.fail_events is not None:
            raise self.fail_events
        oldest = self.clock.now() - self.retention
        retained = [e for e in self.entries if e.at >= oldest]
        newer = [e for e in retained if after is None or int(e.position) > int(after)]
        page = newer[:limit]
        return OfferEventPage(
            events=tuple(e.item for e in page if isinstance(e.item, OfferEvent)),
            unreadable=tuple(e.item for e in page if isinstance(e.item, UnreadableOfferEvent)),
            last_id=page[-1].position if page else None,
        )

    async def offer(self, offer_id: str) -> OfferSnapshot | UnreadableOffer:
        self.offer_reads.append(offer_id)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            await asyncio.sleep(0)  # lets the other reads start, as a request would
            if self.fail_offers is not None:
                raise self.fail_offers
            if offer_id in self.refuse:
                raise self.refuse[offer_id]
            found = self.offers.get(offer_id)
            if found is None:
                raise OfferNotFound(f"HTTP 404 from Allegro: offer {offer_id} not found", 404)
            return found
        finally:
            self._in_flight -= 1
