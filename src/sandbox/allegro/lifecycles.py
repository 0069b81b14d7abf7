"""Realistic order lifecycles, one step at a time, interleaved like a real journal.

Each lifecycle is a generator: every `next()` performs one buyer, Allegro or seller action
and yields the id of the order it is about. Interleaving the steps of many lifecycles gives
a journal where events of different orders mix, as they do in production.
"""

from __future__ import annotations

import functools
import gc
import itertools
import random
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.allegro.state import SimulatorState

Lifecycle = Iterator[str]
_FREEZE_AT = 10_000
_MARKETPLACES = ("allegro-pl",) * 7 + ("allegro-cz", "allegro-sk", "allegro-hu")


def _place(s: SimulatorState, rng: random.Random, **kwargs: object) -> str:
    return s.place_order(marketplace=rng.choice(_MARKETPLACES), **kwargs)  # type: ignore[arg-type]


def _paid(s: SimulatorState, rng: random.Random, **kwargs: object) -> Generator[str, None, str]:
    oid = _place(s, rng, **kwargs)
    yield oid
    s.fill_in(oid)
    yield oid
    s.pay(oid)
    yield oid
    return oid


def shipped(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = yield from _paid(s, rng, payment="ONLINE")
    for status in ("PROCESSING", "READY_FOR_SHIPMENT", "SENT"):
        s.set_fulfillment(oid, status)
        yield oid


def picked_up(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = yield from _paid(s, rng, pickup_point=True)
    for status in ("PROCESSING", "SENT", "PICKED_UP"):
        s.set_fulfillment(oid, status)
        yield oid


def cash_on_delivery(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = yield from _paid(s, rng, payment="CASH_ON_DELIVERY")
    s.set_fulfillment(oid, "PROCESSING")
    yield oid


def unpaid_auto_cancelled(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = _place(s, rng, payment="ONLINE")
    yield oid
    if rng.random() < 0.5:
        s.fill_in(oid)
        yield oid
    s.auto_cancel(oid)
    yield oid


def cancelled_after_payment(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = yield from _paid(s, rng)
    s.buyer_cancel(oid)
    yield oid


def payment_event_after_cancel(s: SimulatorState, rng: random.Random) -> Lifecycle:
    """BUYER_CANCELLED first, then a late READY_FOR_PROCESSING with the paid revision."""
    oid = yield from _paid(s, rng)
    paid_revision = s.revision_of(oid)
    s.buyer_cancel(oid)
    yield oid
    s.duplicate_event(oid, "READY_FOR_PROCESSING", revision=paid_revision)
    yield oid


def surcharge(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = yield from _paid(s, rng, payment="ONLINE")
    s.add_surcharge(oid)
    yield oid
    s.set_fulfillment(oid, "PROCESSING")
    yield oid


def duplicate_ready(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = yield from _paid(s, rng)
    s.duplicate_event(oid, "READY_FOR_PROCESSING")
    yield oid
    s.set_fulfillment(oid, "PROCESSING")
    yield oid


def filled_in_before_bought(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = _place(s, rng, emit=False)
    bought_revision = s.revision_of(oid)
    yield oid
    s.fill_in(oid)
    yield oid
    s.duplicate_event(oid, "BOUGHT", revision=bought_revision)
    yield oid
    s.pay(oid)
    yield oid


def suspended(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = yield from _paid(s, rng)
    s.set_fulfillment(oid, "SUSPENDED")
    yield oid


def returned(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = yield from _paid(s, rng, payment="ONLINE")
    s.set_fulfillment(oid, "SENT")
    yield oid
    s.returned(oid)
    yield oid


def merged(s: SimulatorState, rng: random.Random) -> Lifecycle:
    marketplace = rng.choice(_MARKETPLACES)
    first = s.place_order(marketplace=marketplace, payment="ONLINE")
    yield first
    second = s.place_order(marketplace=marketplace, payment="ONLINE")
    yield second
    oid = s.merge([first, second])
    yield oid
    s.fill_in(oid)
    yield oid
    s.pay(oid)
    yield oid


def still_open(s: SimulatorState, rng: random.Random) -> Lifecycle:
    oid = _place(s, rng)
    yield oid
    if rng.random() < 0.5:
        s.fill_in(oid)
        yield oid


# What a buyer may edit after paying, and how often, when a lifecycle picks it at random.
_BUYER_CHANGES = ("address",) * 5 + ("phone", "phone", "pickup_point", "invoice", "resave")


def buyer_modified(s: SimulatorState, rng: random.Random) -> Lifecycle:
    """Paid, then the buyer changes the address (or point, invoice, phone): BUYER_MODIFIED."""
    pickup = rng.random() < 0.5
    oid = yield from _paid(s, rng, pickup_point=pickup)
    s.set_fulfillment(oid, "PROCESSING")
    yield oid
    change = rng.choice(_BUYER_CHANGES)
    if change == "pickup_point" and not pickup:
        change = "address"
    s.buyer_change(oid, change)
    yield oid
    for status in ("READY_FOR_SHIPMENT", "SENT"):
        s.set_fulfillment(oid, status)
        yield oid


def one_fulfillment(s: SimulatorState, rng: random.Random) -> Lifecycle:
    """Allegro's warehouse ships it (provider ALLEGRO); the statuses move all the same."""
    oid = yield from _paid(s, rng, payment="ONLINE", one_fulfillment=True)
    for status in ("PROCESSING", "SENT"):
        s.set_fulfillment(oid, status)
        yield oid


def extended_term(s: SimulatorState, rng: random.Random) -> Lifecycle:
    """Ready (and shipped) before it is paid; the money brings a second READY_FOR_PROCESSING."""
    oid = yield from _paid(s, rng, payment="EXTENDED_TERM")
    s.set_fulfillment(oid, "PROCESSING")
    yield oid
    s.settle_extended_term(oid)
    yield oid
    s.set_fulfillment(oid, "SENT")
    yield oid


def partially_sent(s: SimulatorState, rng: random.Random) -> Lifecycle:
    """Two parcels: lineItemsSent goes NONE, SOME, ALL."""
    oid = yield from _paid(s, rng, payment="ONLINE", line_items=rng.choice((2, 3)))
    s.set_fulfillment(oid, "PROCESSING")
    yield oid
    s.send_line_items(oid, 1)
    yield oid
    s.set_fulfillment(oid, "SENT")
    yield oid


_Factory = Callable[["SimulatorState", random.Random], Lifecycle]
LifecycleTable = tuple[tuple[_Factory, int], ...]

LIFECYCLES: LifecycleTable = (
    (shipped, 22),
    (picked_up, 8),
    (cash_on_delivery, 10),
    (unpaid_auto_cancelled, 8),
    (cancelled_after_payment, 5),
    (payment_event_after_cancel, 3),
    (surcharge, 5),
    (duplicate_ready, 5),
    (filled_in_before_bought, 5),
    (suspended, 4),
    (returned, 3),
    (merged, 2),
    (still_open, 10),
)
# LIFECYCLES plus what happens to an order after it was imported. A separate table, so a
# seed scripted with LIFECYCLES keeps giving the same orders.
POST_IMPORT_LIFECYCLES: LifecycleTable = (
    *LIFECYCLES,
    (buyer_modified, 8),
    (one_fulfillment, 6),
    (extended_term, 4),
    (partially_sent, 4),
)


@functools.cache
def _cumulative(table: LifecycleTable) -> tuple[list[_Factory], list[int]]:
    return [factory for factory, _ in table], list(itertools.accumulate(w for _, w in table))


def random_lifecycle(
    state: SimulatorState, rng: random.Random, table: LifecycleTable = LIFECYCLES
) -> Lifecycle:
    factories, cumulative = _cumulative(table)
    factory = rng.choices(factories, cum_weights=cumulative)[0]
    return factory(state, rng)


class Interleaver:
    """Runs many lifecycles at once, advancing a random one per step."""

    def __init__(
        self, state: SimulatorState, rng: random.Random, table: LifecycleTable = LIFECYCLES
    ) -> None:
        self._state = state
        self._rng = rng
        self._table = table
        self._active: list[tuple[int, Lifecycle]] = []
        self.final_ids: list[str] = []

    @property
    def active(self) -> int:
        return len(self._active)

    def start(self) -> None:
        self.final_ids.append("")
        index = len(self.final_ids) - 1
        self._active.append((index, random_lifecycle(self._state, self._rng, self._table)))
        self.step(len(self._active) - 1)  # the purchase happens now

    def step(self, position: int | None = None) -> None:
        if not self._active:
            return
        if position is None:
            position = self._rng.randrange(len(self._active))
        index, lifecycle = self._active[position]
        try:
            self.final_ids[index] = next(lifecycle)
        except StopIteration:
            self._active[position] = self._active[-1]
            self._active.pop()


def run_script(
    state: SimulatorState, n: int, seed: int, window: int = 32, *, post_import: bool = False
) -> list[str]:
    if n < 0:
        raise ValueError("n must be >= 0")
    table = POST_IMPORT_LIFECYCLES if post_import else LIFECYCLES
    runner = Interleaver(state, random.Random(seed), table)
    started = 0
    # Bulk generation allocates millions of acyclic dicts; the cyclic collector would spend
    # a third of the time scanning them for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        while started < n or runner.active:
            while started < n and runner.active < window:
                runner.start()
                started += 1
            runner.step()
    finally:
        if collecting:
            gc.enable()
    if n >= _FREEZE_AT:
        # Orders live as long as the simulator and hold no reference cycles; moving them out
        # of the collector's reach keeps later full collections from walking every object of
        # every order (the figures are in docs/performance.md).
        gc.freeze()
    return runner.final_ids
