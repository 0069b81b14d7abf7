"""A batch commits its progress slice by slice, and a stop never waits for its reading: only
a publish + commit already under way completes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import pytest

from application.outbox import uninterrupted
from application.poll_loop import PollLoop
from application.ports import Cursor, OutboundMessage
from application.ports.errors import PublishError
from domain.order import OrderSnapshot
from tests.support.builders import make_order_snapshot
from tests.support.fakes import (
    FakeAllegro,
    FakeClock,
    InMemoryEventPublisher,
    MemoryStateStore,
    make_sync,
)
from tests.unit.application.test_form_loader import ListingAllegro, paid_orders
from tests.unit.application.test_read_ahead import settle

ACCOUNT = "shop-1"


def order(n: int) -> OrderSnapshot:
    return make_order_snapshot(id=f"00000000-0000-11f1-8f11-{n:012d}", revision=f"{n:08x}")


class HeldReads(FakeAllegro):
    """Single reads that wait until the test lets them through."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.reading = asyncio.Event()

    async def get(self, checkout_form_id: str) -> OrderSnapshot:
        self.reading.set()
        await self.release.wait()
        return await super().get(checkout_form_id)


class HeldSends(InMemoryEventPublisher):
    """A broker that acknowledges only when the test lets it."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.sending = asyncio.Event()

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        self.sending.set()
        await self.release.wait()
        await super().send(messages)


class CursorAtEachSend(InMemoryEventPublisher):
    def __init__(self, state: MemoryStateStore, allegro: FakeAllegro) -> None:
        super().__init__()
        self.state = state
        self.allegro = allegro
        self.reads_at_send: list[int] = []

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        self.reads_at_send.append(len(self.allegro.reads))
        await super().send(messages)


def loop_over(sync: object) -> PollLoop:
    return PollLoop(sync, FakeClock(), idle_seconds=0.0)  # type: ignore[arg-type]


async def test_a_single_read_backlog_publishes_and_commits_slice_by_slice(
    state: MemoryStateStore,
) -> None:
    allegro = FakeAllegro()
    last = [allegro.emit("READY_FOR_PROCESSING", order(n)) for n in range(60)][-1]
    publisher = CursorAtEachSend(state, allegro)
    sync = make_sync(allegro, publisher, state, slice_requests=25)

    outcome = await sync.run_batch()

    assert publisher.reads_at_send == [25, 50, 60]  # published after each 25 reads
    assert len(outcome.published) == 60
    assert state.cursors[ACCOUNT] == Cursor(last.id)
    assert outcome.committed


async def test_a_form_waiting_for_a_retry_holds_the_cursor_at_its_slice_only(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = FakeAllegro()
    events = [allegro.emit("READY_FOR_PROCESSING", order(n)) for n in range(60)]
    allegro.forms[order(30).id] = make_order_snapshot(id=order(30).id, status="TELEPORTED")
    sync = make_sync(allegro, publisher, state, slice_requests=25, max_attempts=3)

    outcome = await sync.run_batch()

    assert outcome.retry_pending == [order(30).id]
    assert state.cursors[ACCOUNT] == Cursor(events[24].id)  # the first slice is committed
    assert sorted(e.external_id for e in publisher.published) == sorted(
        order(n).id for n in range(25)
    )


async def test_orders_read_by_pages_stay_one_slice(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = ListingAllegro()
    paid_orders(allegro, range(200), timedelta(seconds=10))
    sync = make_sync(allegro, publisher, state, slice_requests=25)

    await sync.run_batch()

    assert allegro.reads == []  # every form came from list pages
    assert len(allegro.searches) == 2
    assert state.commits == 2  # the new cursor, then the whole batch at once


async def test_a_stop_abandons_a_batch_still_reading(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = HeldReads()
    allegro.emit("READY_FOR_PROCESSING", order(1))
    loop = loop_over(make_sync(allegro, publisher, state))
    stop = asyncio.Event()
    running = asyncio.create_task(loop.run(stop))
    await asyncio.wait_for(allegro.reading.wait(), 5)

    stop.set()
    await asyncio.wait_for(running, 1)  # not after the held read

    assert publisher.published == []
    assert state.cursors[ACCOUNT] == Cursor(None)  # only the new cursor: read again later


@dataclass
class HeldCommit:
    """A loop whose only batch (one order) is held at the broker's acknowledgement."""

    publisher: HeldSends
    running: asyncio.Task[None]
    last_event_id: str


async def loop_held_at_send(state: MemoryStateStore, stop: asyncio.Event) -> HeldCommit:
    allegro = FakeAllegro()
    last = allegro.emit("READY_FOR_PROCESSING", order(1))
    publisher = HeldSends()
    loop = loop_over(make_sync(allegro, publisher, state))
    running = asyncio.create_task(loop.run(stop))
    await asyncio.wait_for(publisher.sending.wait(), 5)
    return HeldCommit(publisher, running, last.id)


async def test_a_stop_lets_a_publish_and_commit_under_way_complete(
    state: MemoryStateStore,
) -> None:
    stop = asyncio.Event()
    held = await loop_held_at_send(state, stop)

    stop.set()
    await settle()
    waited = not held.running.done()
    held.publisher.release.set()
    await asyncio.wait_for(held.running, 1)

    assert waited  # the stop waited for the acknowledgement under way
    assert [e.external_id for e in held.publisher.published] == [order(1).id]
    assert state.cursors[ACCOUNT] == Cursor(held.last_event_id)
    assert state.staged == {}


async def test_cancelling_twice_abandons_even_a_commit_under_way(
    state: MemoryStateStore,
) -> None:
    held = await loop_held_at_send(state, asyncio.Event())

    held.running.cancel()
    await settle()  # a second signal comes later than the first one's handling
    held.running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(held.running, 1)

    assert state.cursors[ACCOUNT] == Cursor(None)
    assert ACCOUNT in state.staged  # re-sent byte for byte at the next start


async def test_a_loop_cancelled_from_outside_waits_for_the_commit_under_way(
    state: MemoryStateStore,
) -> None:
    # E.g. the lease lost: the next term must not start beside a commit left running.
    held = await loop_held_at_send(state, asyncio.Event())

    held.running.cancel()
    await settle()
    waited = not held.running.done()
    held.publisher.release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(held.running, 1)

    assert waited
    assert state.cursors[ACCOUNT] == Cursor(held.last_event_id)


async def test_uninterrupted_work_that_fails_still_ends_its_caller_cancelled() -> None:
    release = asyncio.Event()

    async def failing_commit() -> None:
        await release.wait()
        raise PublishError("broker went away")

    caller = asyncio.create_task(uninterrupted(failing_commit()))
    await asyncio.sleep(0)
    caller.cancel()
    await asyncio.sleep(0)
    release.set()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(caller, 1)
