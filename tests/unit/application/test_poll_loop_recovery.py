"""Recovery after a fix: the backoff is capped at a minute, and a wake (new tokens, the broker
back) ends the wait at once, while a stop still ends everything at once. Every batch's
duration reaches the observer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from application import poll_loop
from application.poll_loop import Backoff, PollLoop
from application.ports import AllegroUnavailable
from application.ports.errors import PortError
from application.sweep import SweepOutcome
from application.sync_orders import BatchOutcome, SyncSettings
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy
from entrypoints.assembly import order_import
from tests.support.builders import make_order_snapshot
from tests.support.fakes import FakeAllegro, FakeClock, InMemoryEventPublisher, MemoryStateStore

BOUND = 5.0  # every wait in these tests; the loop's own waits are far longer
LONG_BACKOFF = Backoff(initial=1000.0, maximum=1000.0, jitter=lambda: 1.0)


class HookedAllegro(FakeAllegro):
    """Calls `on_read` before each checkout-form read (the batch's Allegro call)."""

    def __init__(self) -> None:
        super().__init__()
        self.on_read: Callable[[], None] = lambda: None

    async def get(self, checkout_form_id: str) -> OrderSnapshot:
        self.on_read()
        return await super().get(checkout_form_id)


class RecordingObserver:
    """Records the batches; `changed` is set after every batch and every failed poll."""

    def __init__(self) -> None:
        self.batches: list[tuple[BatchOutcome, float]] = []
        self.changed = asyncio.Event()

    def batch_done(self, outcome: BatchOutcome, seconds: float) -> None:
        self.batches.append((outcome, seconds))
        self.changed.set()

    def sweep_done(self, outcome: SweepOutcome) -> None:
        pass

    def poll_failed(self, error: PortError) -> None:
        self.changed.set()

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(BOUND):
                while not condition():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"no {what} within {BOUND} s") from None


def make_loop(
    allegro: FakeAllegro, observer: RecordingObserver, backoff: Backoff = LONG_BACKOFF
) -> PollLoop:
    sync = order_import(
        allegro,
        allegro,
        InMemoryEventPublisher(),
        MemoryStateStore(),
        ImportPolicy(account="a"),
        SyncSettings(account="a", start_from="earliest"),
        FakeClock(),
    ).sync
    return PollLoop(sync, FakeClock(), idle_seconds=1000.0, backoff=backoff, observer=observer)


def failing_allegro() -> HookedAllegro:
    allegro = HookedAllegro()
    allegro.emit("READY_FOR_PROCESSING", make_order_snapshot())
    allegro.fail_reads = AllegroUnavailable("down")
    return allegro


def test_the_default_backoff_never_waits_more_than_a_minute() -> None:
    backoff = Backoff(jitter=lambda: 1.0)

    assert backoff.maximum == 60.0
    assert max(backoff.delay(n) for n in range(1, 40)) == 60.0


async def test_a_wake_ends_the_backoff_at_once_and_the_next_poll_succeeds() -> None:
    allegro, observer = failing_allegro(), RecordingObserver()
    loop = make_loop(allegro, observer)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await observer.until(lambda: loop.failing, "failed poll")
        assert loop.status.consecutive_failures == 1  # and now backing off for 1000 s
        allegro.fail_reads = None

        loop.wake()

        await observer.until(lambda: loop.status.published == 1, "poll right after the wake")
        assert not loop.failing
    finally:
        stop.set()
        await asyncio.wait_for(task, BOUND)


async def test_a_wake_during_the_failing_batch_skips_the_wait_after_it() -> None:
    allegro, observer = failing_allegro(), RecordingObserver()
    loop = make_loop(allegro, observer)

    def fixed_while_failing() -> None:
        if not loop.failing:  # the first read: the fix lands while this batch fails
            loop.wake()

    allegro.on_read = fixed_while_failing
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await observer.until(lambda: loop.status.consecutive_failures >= 2, "second poll at once")
    finally:
        stop.set()
        await asyncio.wait_for(task, BOUND)


async def test_a_stop_still_ends_a_backoff_at_once() -> None:
    observer = RecordingObserver()
    loop = make_loop(failing_allegro(), observer)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await observer.until(lambda: loop.failing, "failed poll")

    stop.set()

    await asyncio.wait_for(task, BOUND)
    assert loop.status.consecutive_failures == 1


async def test_a_wake_and_a_stop_together_stop() -> None:
    observer = RecordingObserver()
    loop = make_loop(failing_allegro(), observer)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await observer.until(lambda: loop.failing, "failed poll")

    loop.wake()
    stop.set()

    await asyncio.wait_for(task, BOUND)
    assert loop.status.consecutive_failures == 1  # no further poll after the stop


async def test_every_batch_reports_its_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]  # the loop's monotonic clock, moved by the batch's read (no real waiting)
    monkeypatch.setattr(poll_loop, "time", SimpleNamespace(monotonic=lambda: now[0]))
    allegro = HookedAllegro()
    allegro.emit("READY_FOR_PROCESSING", make_order_snapshot())

    def slow_read() -> None:
        now[0] += 2.5

    allegro.on_read = slow_read
    observer = RecordingObserver()
    loop = make_loop(allegro, observer)

    await loop.step()

    [(outcome, seconds)] = observer.batches
    assert len(outcome.published) == 1
    assert seconds == 2.5
