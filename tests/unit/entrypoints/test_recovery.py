"""The recovery watch wakes a failing poll loop when tokens change in the store or a
dependency answers again, and leaves a healthy loop alone; a failed lag measurement keeps
the last lag."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from application.ports.errors import PortError
from application.ports.state import TokenPair
from entrypoints.health import ServiceState
from entrypoints.lag import Lag
from entrypoints.recovery import watch_recovery
from entrypoints.runtime import measure_lag
from tests.support.fakes import MemoryTokenStore

PERIOD = 0.01
BOUND = 5.0
T0 = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)
ACCOUNT = "shop"


class Store(MemoryTokenStore):
    """The one token-store fake, announcing each look so that a test can wait for looks."""

    def __init__(self, changed: asyncio.Event) -> None:
        super().__init__({ACCOUNT: TokenPair("a-0", "r-0", T0 + timedelta(hours=12))})
        self.loads = 0
        self._changed = changed

    async def load(self, account: str) -> TokenPair | None:
        self.loads += 1
        self._changed.set()
        return await super().load(account)


class Loop:
    """Announces each look at `failing`, so that a test can wait for the watch's periods."""

    def __init__(self, changed: asyncio.Event) -> None:
        self._failing = True
        self.looks = 0
        self.wakes = 0
        self._changed = changed

    @property
    def failing(self) -> bool:
        self.looks += 1
        self._changed.set()
        return self._failing

    @failing.setter
    def failing(self, value: bool) -> None:
        self._failing = value

    def wake(self) -> None:
        self.wakes += 1
        self._changed.set()


class Broker:
    def __init__(self) -> None:
        self.up = True

    async def healthy(self) -> bool:
        return self.up


class Watch:
    """The watch's surroundings; `changed` is set on every look at the store and every wake."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.loop, self.store, self.broker = Loop(self.changed), Store(self.changed), Broker()
        self.stop = asyncio.Event()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(BOUND):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def looks(self, count: int) -> None:
        """Waits for `count` more looks at the token store."""
        target = self.store.loads + count
        await self.until(lambda: self.store.loads >= target)

    async def periods(self, count: int) -> None:
        """Waits for `count` more periods of the watch (each looks whether the loop fails)."""
        target = self.loop.looks + count
        await self.until(lambda: self.loop.looks >= target)


@pytest.fixture
async def watch() -> AsyncIterator[Watch]:
    w = Watch()
    task = asyncio.create_task(
        watch_recovery(w.loop, w.stop, w.store, ACCOUNT, {"broker": w.broker.healthy}, PERIOD)
    )
    try:
        yield w
    finally:
        w.stop.set()
        await asyncio.wait_for(task, BOUND)


async def test_new_tokens_saved_by_a_login_wake_the_failing_loop(watch: Watch) -> None:
    await watch.looks(3)
    assert watch.loop.wakes == 0  # the same pair, the same dependencies: nothing to do

    watch.store.pairs[ACCOUNT] = TokenPair("a-1", "r-1", T0 + timedelta(hours=12))

    await watch.until(lambda: watch.loop.wakes == 1)
    await watch.looks(3)
    assert watch.loop.wakes == 1  # once per change, not once per look


async def test_a_first_pair_stored_wakes_the_loop(watch: Watch) -> None:
    del watch.store.pairs[ACCOUNT]
    await watch.looks(2)

    watch.store.pairs[ACCOUNT] = TokenPair("a-1", "r-1", T0 + timedelta(hours=12))

    await watch.until(lambda: watch.loop.wakes == 1)


async def test_the_broker_answering_again_wakes_the_loop(watch: Watch) -> None:
    watch.broker.up = False
    await watch.looks(2)
    assert watch.loop.wakes == 0

    watch.broker.up = True

    await watch.until(lambda: watch.loop.wakes == 1)
    await watch.looks(3)
    assert watch.loop.wakes == 1


async def test_a_healthy_loop_is_left_alone(watch: Watch) -> None:
    watch.loop.failing = False
    watch.broker.up = False
    await watch.periods(5)  # the watch must stay idle

    watch.store.pairs[ACCOUNT] = TokenPair("a-1", "r-1", T0 + timedelta(hours=12))
    watch.broker.up = True
    await watch.periods(5)

    assert watch.store.loads == 0
    assert watch.loop.wakes == 0


async def test_a_store_that_fails_to_answer_wakes_nothing(watch: Watch) -> None:
    watch.store.fail_with = PortError("store down")
    await watch.looks(3)

    assert watch.loop.wakes == 0


class Probe:
    def __init__(self) -> None:
        self.failure: PortError | None = None

    async def measure(self) -> Lag:
        if self.failure is not None:
            raise self.failure
        return Lag(None, "42", 1.5, 3, False, T0)


async def test_a_failed_lag_measurement_keeps_the_last_value_and_counts() -> None:
    service, probe = ServiceState(), Probe()
    await measure_lag(service, probe)  # type: ignore[arg-type]
    measured = service.lag

    probe.failure = PortError("Allegro down")
    await measure_lag(service, probe)  # type: ignore[arg-type]

    assert measured is not None
    assert service.lag is measured
    assert service.lag_measurement_failures == 1
