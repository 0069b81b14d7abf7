"""`run --once`'s summary: counts of every batch, holding no batch's outcome past its turn."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable

from application.ports import UnreadableCheckoutForm
from application.sync_orders import BatchOutcome, SyncOrders
from entrypoints.service import DrainSummary
from tests.support.builders import make_order_snapshot
from tests.support.fakes import FakeAllegro, InMemoryEventPublisher, MemoryStateStore, make_sync


def backlog(orders: int) -> FakeAllegro:
    """`orders` paid orders, one of them twice (nothing new to publish), the last unreadable."""
    allegro = FakeAllegro()
    for n in range(orders):
        allegro.emit("READY_FOR_PROCESSING", make_order_snapshot(id=f"cf-{n}"))
    allegro.emit("READY_FOR_PROCESSING", make_order_snapshot(id="cf-0"))
    unreadable = f"cf-{orders - 1}"
    allegro.forms[unreadable] = UnreadableCheckoutForm(unreadable, '{"id": 1', "invalid JSON")
    return allegro


def sync_over(allegro: FakeAllegro) -> SyncOrders:
    return make_sync(
        allegro,
        InMemoryEventPublisher(),
        MemoryStateStore(),
        batch_size=2,
        pages_per_batch=1,
        max_attempts=1,
    )


def live_outcomes() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, BatchOutcome))


def counting_live_outcomes(sync: SyncOrders, counts: list[int]) -> None:
    """Before each batch, records how many `BatchOutcome`s are alive beyond those at the start."""
    run_batch: Callable[[], Awaitable[BatchOutcome]] = sync.run_batch
    baseline = live_outcomes()

    async def observed() -> BatchOutcome:
        counts.append(live_outcomes() - baseline)
        return await run_batch()

    sync.run_batch = observed  # type: ignore[method-assign]


async def test_the_summary_counts_what_every_batch_of_the_drain_did() -> None:
    outcomes = await sync_over(backlog(9)).drain()

    summary = await DrainSummary.of(sync_over(backlog(9)).batches())

    assert len(outcomes) == 6  # 10 events, two a batch, the last page full: one empty batch
    assert summary == DrainSummary(
        batches=len(outcomes),
        events=sum(o.events_read for o in outcomes),
        orders=sum(o.orders_read for o in outcomes),
        published=sum(len(o.published) for o in outcomes),
        dead_lettered=sum(len(o.dead_letters) for o in outcomes),
        cursor=outcomes[-1].cursor.position if outcomes[-1].cursor else None,
    )
    assert (summary.published, summary.dead_lettered) == (8, 1)
    assert summary.cursor == backlog(9).events[-1].id


async def test_the_summary_keeps_no_batch_outcome_once_counted() -> None:
    sync = sync_over(backlog(40))
    live: list[int] = []
    counting_live_outcomes(sync, live)

    summary = await DrainSummary.of(sync.batches())

    assert summary.batches == len(live) == 21
    assert max(live) <= 2, f"outcomes alive before each batch: {live}"
