"""The published stream of an order, folded, is the order as Allegro last shows it.

Random sequences of buyer changes (address, phone, notes), paid surcharges and fulfillment
status changes happen to a few paid orders, with the journal path polling at random moments
in between (so a batch may see several changes at once, or none). Folding each order's
events — `OrderImported` sets everything, `OrderUpdated` replaces the content,
`OrderStatusChanged` the statuses — must give the final form's values, checked against the
form's own fields (not through the code that builds the events); and every `OrderUpdated`
names exactly the fields that differ from the state folded before it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.sync_orders import SyncSettings
from domain.events import FullOrder, OrderImported, OrderStatusChanged, OrderUpdated
from domain.money import Money
from domain.order import OrderSnapshot, Payment
from domain.policy import ImportPolicy
from entrypoints.assembly import order_import
from tests.support.builders import make_order_snapshot
from tests.support.fakes import T0, FakeAllegro, FakeClock, InMemoryEventPublisher, MemoryStateStore

ACCOUNT = "folds"
ORDERS = ("aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b")
FULFILLMENT = ("NEW", "PROCESSING", "READY_FOR_SHIPMENT", "SENT")
# The fields an OrderUpdated may name in this scenario, and how each is read off the form.
CONTENT_OF_FORM = {
    "shipping_address": lambda f: f.delivery.address if f.delivery else None,
    "customer_phone": lambda f: f.buyer.phone,
    "buyer": lambda f: f.buyer,
    "notes": lambda f: f.message_to_seller,
    "surcharges": lambda f: f.surcharges,
    "total_to_pay": lambda f: f.total_to_pay.amount,
}

actions = st.lists(
    st.tuples(
        st.sampled_from(ORDERS),
        st.sampled_from(["address", "phone", "notes", "surcharge", "fulfillment", "resave"]),
        st.integers(0, 999),
        st.booleans(),  # poll after this action
    ),
    min_size=1,
    max_size=14,
)


def change(form: OrderSnapshot, action: str, n: int, step: int) -> tuple[str, OrderSnapshot]:
    """The journal event type and the form after `action` (a new revision each time)."""
    moved = dataclasses.replace(
        form, revision=f"r{step:04d}", updated_at=T0 + timedelta(minutes=step)
    )
    if action == "address" and form.delivery and form.delivery.address:
        address = dataclasses.replace(form.delivery.address, street=f"Nowa {n}")
        return "BUYER_MODIFIED", dataclasses.replace(
            moved, delivery=dataclasses.replace(form.delivery, address=address)
        )
    if action == "phone":
        buyer = dataclasses.replace(form.buyer, phone=f"+48600{n:06d}")
        return "BUYER_MODIFIED", dataclasses.replace(moved, buyer=buyer)
    if action == "notes":
        return "BUYER_MODIFIED", dataclasses.replace(moved, message_to_seller=f"uwaga {n}")
    if action == "surcharge":
        amount = Decimal(n + 1) / 100
        paid = Payment(
            f"s-{step}", "ONLINE", "P24", T0 + timedelta(minutes=step), Money(amount, "PLN")
        )
        total = Money(form.total_to_pay.amount + amount, "PLN")
        return "READY_FOR_PROCESSING", dataclasses.replace(
            moved, surcharges=(*form.surcharges, paid), total_to_pay=total
        )
    if action == "fulfillment":
        status = FULFILLMENT[n % len(FULFILLMENT)]
        # a seller-side change: the revision moves, `updatedAt` does not
        seller = dataclasses.replace(moved, updated_at=form.updated_at)
        return "FULFILLMENT_STATUS_CHANGED", dataclasses.replace(seller, fulfillment_status=status)
    return "BUYER_MODIFIED", moved  # a resave: a new revision, nothing we publish changed


def fold(events: list[Any]) -> dict[str, dict[str, Any]]:
    """Per order: the state a consumer holds after applying the stream in order."""
    state: dict[str, dict[str, Any]] = {}
    for event in events:
        if isinstance(event, (OrderImported, OrderUpdated)):
            current = {f.name: getattr(event, f.name) for f in dataclasses.fields(FullOrder)}
            if isinstance(event, OrderUpdated):
                before = state[event.external_id]
                differing = {k for k in CONTENT_OF_FORM if before[k] != current[k]}
                assert set(event.changed) == differing, (event.changed, differing)
            state[event.external_id] = current
        elif isinstance(event, OrderStatusChanged):
            folded = state[event.external_id]
            assert folded["order_status"] == event.previous_status
            folded.update(
                order_status=event.order_status,
                payment_status=event.payment_status,
                fulfillment_status=event.fulfillment_status,
            )
    return state


@settings(
    max_examples=80, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)
@given(steps=actions)
def test_the_folded_stream_of_each_order_is_its_final_form(steps: list[Any]) -> None:
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    sync = order_import(
        allegro,
        allegro,
        publisher,
        state,
        ImportPolicy(account=ACCOUNT),
        SyncSettings(account=ACCOUNT, start_from="earliest"),
        FakeClock(),
    ).sync
    forms = {fid: make_order_snapshot(id=fid, revision="r0000") for fid in ORDERS}
    for form in forms.values():
        allegro.emit("READY_FOR_PROCESSING", form)

    async def play() -> None:
        await sync.drain()
        for step, (fid, action, n, poll) in enumerate(steps, start=1):
            event_type, forms[fid] = change(forms[fid], action, n, step)
            allegro.emit(event_type, forms[fid])
            if poll:
                await sync.drain()
        await sync.drain()

    asyncio.run(play())

    folded = fold(publisher.published)
    assert set(folded) == set(ORDERS)
    for fid, form in forms.items():
        for name, read in CONTENT_OF_FORM.items():
            assert folded[fid][name] == read(form), (fid, name)
        assert folded[fid]["fulfillment_status"] == form.fulfillment_status
    # An OrderUpdated never repeats: each says something new.
    ids = [e.event_id for e in publisher.published]
    assert len(ids) == len(set(ids))
