"""README.md, Guarantees: out-of-order and repeated journal events change nothing the
checkout form does not show. Pinned down here with fakes, after the fault-storm test lost a
cancellation.

Allegro's journal does deliver a READY_FOR_PROCESSING late, carrying the revision the order
had when it was paid, after the BUYER_CANCELLED that followed it (the simulator's
`payment_event_after_cancel` lifecycle). The batch's *last* event then names an *older*
revision than the order has.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from application.ports import JournalEvent
from application.sync_orders import SyncSettings
from domain.events import OrderStatusChanged
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy
from entrypoints.assembly import order_import
from tests.support.builders import make_line_item, make_order_snapshot
from tests.support.fakes import T0, FakeAllegro, FakeClock, InMemoryEventPublisher, MemoryStateStore

ACCOUNT = "ooo"
BOUGHT = T0 - timedelta(hours=2)


class ListingAllegro(FakeAllegro):
    """Journal events carry the purchase time, so the use case may read through list pages."""

    def emit(self, event_type: str, order: OrderSnapshot, *, store: bool = True) -> JournalEvent:
        event = dataclasses.replace(
            super().emit(event_type, order, store=store), bought_at=order.ordered_at
        )
        self.events[-1] = event
        return event


def order(n: int, **overrides: object) -> OrderSnapshot:
    bought = BOUGHT + timedelta(minutes=n)
    fields: dict[str, object] = {
        "id": f"00000000-0000-11f1-8f11-{n:012d}",
        "revision": f"{n:08x}",
        "line_items": (make_line_item(id=f"10000000-0000-11f1-8f11-{n:012d}", bought_at=bought),),
        "updated_at": bought,
        **overrides,
    }
    return make_order_snapshot(**fields)


async def test_a_cancellation_followed_by_a_late_payment_event_is_published():
    allegro, publisher, state = ListingAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    for n in range(5):  # enough orders close in time to be read through a list page
        allegro.emit("READY_FOR_PROCESSING", order(n))
    sync = order_import(
        journal=allegro,
        forms=allegro,
        publisher=publisher,
        state=state,
        policy=ImportPolicy(account=ACCOUNT),
        settings=SyncSettings(account=ACCOUNT, start_from="earliest"),
        clock=FakeClock(),
    ).sync
    await sync.run_batch()
    paid = order(2)
    cancelled = dataclasses.replace(
        paid, status="CANCELLED", revision="cacce11e", updated_at=T0 + timedelta(seconds=30)
    )
    allegro.emit("BUYER_CANCELLED", cancelled)
    allegro.emit("READY_FOR_PROCESSING", paid, store=False)  # late, with the paid revision

    await sync.run_batch()

    changes = [e for e in publisher.published if isinstance(e, OrderStatusChanged)]
    assert [(e.external_id, e.order_status) for e in changes] == [(paid.id, "cancelled")]
