"""One fake per port, all imported from here; tests check their state, never call assertions.

- `Clock`: `FakeClock`;
- `OrderEventJournal` and `CheckoutFormReader`: `FakeAllegro` (Allegro as the ports see it);
- `EventPublisher`: `InMemoryEventPublisher` (from adapters.inmemory);
- `StateStore`: `MemoryStateStore` (from adapters.persistence);
- `TokenStore`: `MemoryTokenStore` (from adapters.persistence).

The last three are in-memory adapters that pass the ports' contract suites (`tests/contract`),
so a test's fake behaves as production's adapters do. Each has the same outage switch: set
`fail_with` to an exception and every call raises it; `FakeAllegro.fail_reads` does the same
for checkout form reads. Allegro over HTTP (below the adapter, not a port) is
`tests/support/allegro_server.py`'s `FakeAllegroServer`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.inmemory import InMemoryEventPublisher
from adapters.persistence import MemoryStateStore, MemoryTokenStore
from application.ports import (
    AllegroRejected,
    AllegroUnavailable,
    CheckoutFormNotFound,
    CheckoutFormPage,
    CheckoutFormQuery,
    CheckoutFormReader,
    Clock,
    JournalEvent,
    MalformedCheckoutForm,
    OrderEventJournal,
    StateStore,
    UnreadableCheckoutForm,
)
from application.ports.order_writes import OrderWriter, RevisionConflict, Shipment
from application.ports.publisher import EventPublisher
from application.sweep import SweepCheckoutForms
from application.sync_orders import SyncOrders, SyncSettings
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy
from entrypoints.assembly import OrderImport, order_import

__all__ = [
    "SYNC_ACCOUNT",
    "T0",
    "FakeAllegro",
    "FakeClock",
    "InMemoryEventPublisher",
    "MemoryStateStore",
    "MemoryTokenStore",
    "make_sweep",
    "make_sync",
]

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


class FakeClock(Clock):
    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FakeAllegro(OrderEventJournal, CheckoutFormReader, OrderWriter):
    """Journal, checkout forms and their write-back in one place, like Allegro itself."""

    def __init__(self) -> None:
        self.events: list[JournalEvent] = []
        self.forms: dict[str, OrderSnapshot | UnreadableCheckoutForm] = {}
        self.reads: list[str] = []
        self.searches: list[CheckoutFormQuery] = []
        self.wanted: list[Collection[str] | None] = []  # `search`'s `wanted`, one per request
        self.journal_reads: list[str | None] = []  # `fetch`'s `after`, one per request
        self.fail_reads: Exception | None = None
        self.shipments_of: dict[str, list[Shipment]] = {}
        self.writes: list[tuple[str, ...]] = []  # every write request, as Allegro would log it
        self.carriers: frozenset[str] = frozenset({"INPOST", "DPD", "DHL", "OTHER"})
        self.carrier_reads = 0
        self.fail_writes: Exception | None = None
        self.lose_write_response = False  # the write happens, then the caller sees an outage

    def emit(self, event_type: str, order: OrderSnapshot, *, store: bool = True) -> JournalEvent:
        seq = len(self.events) + 1
        event = JournalEvent(
            id=str(1773479698020317 + seq),
            type=event_type,
            occurred_at=T0 + timedelta(seconds=seq),
            checkout_form_id=order.id,
            revision=order.revision,
        )
        self.events.append(event)
        if store:
            self.forms[order.id] = order
        return event

    async def fetch(self, after: str | None, limit: int) -> Sequence[JournalEvent]:
        self.journal_reads.append(after)
        newer = [e for e in self.events if after is None or int(e.id) > int(after)]
        return newer[:limit]

    async def latest_event_id(self) -> str | None:
        return self.events[-1].id if self.events else None

    async def get(self, checkout_form_id: str) -> OrderSnapshot:
        self.reads.append(checkout_form_id)
        if self.fail_reads is not None:
            raise self.fail_reads
        form = self.forms.get(checkout_form_id)
        if form is None:
            raise CheckoutFormNotFound(checkout_form_id)
        if isinstance(form, UnreadableCheckoutForm):
            raise MalformedCheckoutForm(form)
        return form

    async def get_raw(self, checkout_form_id: str) -> str:
        form = self.forms.get(checkout_form_id)
        if form is None:
            raise CheckoutFormNotFound(checkout_form_id)
        if isinstance(form, UnreadableCheckoutForm):
            return form.raw
        return json.dumps(dataclasses.asdict(form), default=str, sort_keys=True)

    async def set_fulfillment_status(
        self, checkout_form_id: str, status: str, revision: str | None
    ) -> None:
        self.writes.append(("PUT fulfillment", checkout_form_id, status, revision or ""))
        if self.fail_writes is not None:
            raise self.fail_writes
        form = self.forms.get(checkout_form_id)
        if not isinstance(form, OrderSnapshot):
            raise CheckoutFormNotFound(checkout_form_id)
        if revision is not None and revision != form.revision:
            raise RevisionConflict("HTTP 409 from Allegro: revision outdated", 409)
        if form.fulfillment_status != status:  # a seller-side change: a new revision
            revision_now = f"{form.revision or 'r'}+{len(self.writes)}"
            changed = dataclasses.replace(form, fulfillment_status=status, revision=revision_now)
            self.emit("FULFILLMENT_STATUS_CHANGED", changed)
        self._maybe_lose_response()

    async def shipments(self, checkout_form_id: str) -> Sequence[Shipment]:
        self.writes.append(("GET shipments", checkout_form_id))
        if self.fail_writes is not None:
            raise self.fail_writes
        if checkout_form_id not in self.forms:
            raise CheckoutFormNotFound(checkout_form_id)
        return list(self.shipments_of.get(checkout_form_id, []))

    async def add_shipment(
        self,
        checkout_form_id: str,
        carrier_id: str,
        waybill: str,
        carrier_name: str | None,
        line_item_ids: Sequence[str],
    ) -> Shipment:
        self.writes.append(("POST shipments", checkout_form_id, carrier_id, waybill))
        if self.fail_writes is not None:
            raise self.fail_writes
        if checkout_form_id not in self.forms:
            raise CheckoutFormNotFound(checkout_form_id)
        if not waybill.isalnum():
            raise AllegroRejected(
                "HTTP 400 from Allegro: bad tracking number", 400, "VALIDATION_ERROR"
            )
        shipments = self.shipments_of.setdefault(checkout_form_id, [])
        shipment = Shipment(f"shp-{len(self.writes)}", carrier_id, waybill, tuple(line_item_ids))
        shipments.append(shipment)  # no idempotency key: a second POST is a second shipment
        self._maybe_lose_response()
        return shipment

    async def carrier_ids(self) -> frozenset[str]:
        self.carrier_reads += 1
        return self.carriers

    def _maybe_lose_response(self) -> None:
        if self.lose_write_response:
            self.lose_write_response = False
            raise AllegroUnavailable("the response was lost after Allegro applied the write")

    async def search(
        self, query: CheckoutFormQuery, *, wanted: Collection[str] | None = None
    ) -> CheckoutFormPage:
        self.searches.append(query)
        self.wanted.append(wanted)
        if self.fail_reads is not None:
            raise self.fail_reads
        matching = sorted(
            (f for f in self.forms.values() if _bought_within(f, query)),
            key=lambda f: (
                (_bought_at(f) or T0, f.checkout_form_id or "")
                if isinstance(f, UnreadableCheckoutForm)
                else (_bought_at(f) or T0, f.id)
            ),
            reverse=query.order == "newest_first",
        )
        if query.offset + query.limit > 10_000:
            raise AssertionError("offset + limit beyond Allegro's 10 000 window")
        page = matching[query.offset : query.offset + query.limit]
        if wanted is not None:  # left out, as the HTTP adapter leaves them untranslated
            page = [f for f in page if _form_id(f) is None or _form_id(f) in wanted]
        return CheckoutFormPage(tuple(page), len(matching))


def _form_id(form: OrderSnapshot | UnreadableCheckoutForm) -> str | None:
    return form.checkout_form_id if isinstance(form, UnreadableCheckoutForm) else form.id


def _bought_at(form: OrderSnapshot | UnreadableCheckoutForm) -> datetime | None:
    return form.ordered_at if isinstance(form, OrderSnapshot) else None


def _bought_within(form: OrderSnapshot | UnreadableCheckoutForm, query: CheckoutFormQuery) -> bool:
    if isinstance(form, UnreadableCheckoutForm):
        return True  # its dates are unknown; let every window list it
    bought = _bought_at(form)
    if bought is None:
        return query.bought_at_gte is None and query.bought_at_lte is None
    low, high = query.bought_at_gte, query.bought_at_lte
    return (low is None or bought >= low) and (high is None or bought <= high)


SYNC_ACCOUNT = "shop-1"


def make_import(
    allegro: FakeAllegro,
    publisher: EventPublisher,
    state: StateStore,
    *,
    policy: ImportPolicy | None = None,
    clock: FakeClock | None = None,
    sweep_page_size: int = 100,
    **settings: Any,
) -> OrderImport:
    """The account's use cases over the fakes, wired as the service wires them (one
    pipeline), from the journal's start; `settings` override the rest of `SyncSettings`."""
    options: dict[str, Any] = {"account": SYNC_ACCOUNT, "start_from": "earliest", **settings}
    return order_import(
        allegro,
        allegro,
        publisher,
        state,
        policy or ImportPolicy(account=options["account"]),
        SyncSettings(**options),
        clock or FakeClock(),
        sweep_page_size=sweep_page_size,
    )


def make_sync(
    allegro: FakeAllegro,
    publisher: EventPublisher,
    state: StateStore,
    *,
    policy: ImportPolicy | None = None,
    **settings: Any,
) -> SyncOrders:
    """`SyncOrders` over the fakes, from the journal's start; `settings` override the rest."""
    return make_import(allegro, publisher, state, policy=policy, **settings).sync


def make_sweep(
    allegro: FakeAllegro,
    publisher: EventPublisher,
    state: StateStore,
    *,
    page_size: int = 100,
    max_attempts: int = 3,
) -> SweepCheckoutForms:
    """`SweepCheckoutForms` over the fakes, for the account `make_sync` reads."""
    return make_import(
        allegro, publisher, state, sweep_page_size=page_size, max_attempts=max_attempts
    ).sweep
