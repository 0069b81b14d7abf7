"""The long-running poll: batches back to back while the journal is busy, idle waits
otherwise, exponential backoff on outages. Stops between batches when asked.

A wait is cut short by `stop` (the loop ends) or by `wake()` (the next batch starts now):
whoever sees a failure's cause go away (new tokens saved by `auth login`, the broker
answering again) wakes the loop rather than let it sleep out a backoff.

Operators see it through `LoopStatus` (in memory), a `LoopObserver` (metrics) and the last
poll error, which is also kept in the state store so that `status` can show it later.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from application.ports.clock import Clock
from application.ports.errors import PortError
from application.ports.state import FailureLog
from application.reconcile import Reconciler
from application.stopping import unless_stopped
from application.sweep import SweepOutcome
from application.sync_orders import BatchOutcome, SyncOrders

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LoopStatus:
    """What operators and readiness probes want to know about the loop."""

    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    batches: int = 0
    published: int = 0
    dead_lettered: int = 0


class LoopObserver(Protocol):
    """Metrics hook: told about every batch, every sweep and every failed poll."""

    def batch_done(self, outcome: BatchOutcome, seconds: float) -> None:
        """`seconds`: how long the batch took (read, publish, commit), monotonic time."""

    def sweep_done(self, outcome: SweepOutcome) -> None: ...

    def poll_failed(self, error: PortError) -> None: ...


# The longest pause between two polls of a failing account: an operator who fixed the cause
# waits at most this long (less: see `PollLoop.wake`), and one poll a minute of a dead
# dependency costs nothing worth saving.
MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 1.0
    maximum: float = MAX_BACKOFF_SECONDS
    jitter: Callable[[], float] = field(default=random.random)

    def delay(self, failures: int) -> float:
        """Full jitter: uniform in [0, min(max, initial * 2**(failures-1))]."""
        ceiling = min(self.maximum, self.initial * 2 ** max(failures - 1, 0))
        return float(ceiling * self.jitter())


class PollLoop:
    def __init__(
        self,
        sync: SyncOrders,
        clock: Clock,
        idle_seconds: float,
        backoff: Backoff | None = None,
        status: LoopStatus | None = None,
        reconciler: Reconciler | None = None,
        observer: LoopObserver | None = None,
        error_log: FailureLog | None = None,
        stop_on: tuple[type[PortError], ...] = (),
    ) -> None:
        """`stop_on`: port errors that end `run` (they propagate) instead of a backoff,
        e.g. losing the leader lease. `error_log` keeps the last poll error durably."""
        self._sync = sync
        self._reconciler = reconciler
        self._clock = clock
        self._idle = idle_seconds
        self._backoff = backoff or Backoff()
        self.status = status or LoopStatus()
        self._observer = observer
        self._error_log = error_log
        self._stop_on = stop_on
        self._wake = asyncio.Event()

    @property
    def failing(self) -> bool:
        """True from a failed poll until the next successful one (i.e. while backing off)."""
        return self.status.consecutive_failures > 0

    def wake(self) -> None:
        """Ends the current wait at once; during a batch, the wait after it is skipped."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Polls until `stop`. A stop does not wait for the batch in flight: its reading is
        abandoned at once (what was read but not committed is read again after a restart),
        and only a publish + commit already under way completes (see `outbox.uninterrupted`);
        so a stop takes a second or two however slow the batch is."""
        while not stop.is_set():
            # Cleared before the batch, not after: a wake during the batch (tokens saved
            # while it failed) must still cut the wait that follows.
            self._wake.clear()
            delay = await self._step_unless_stopped(stop)
            if delay is None:
                return
            if delay > 0:
                await _wait(stop, self._wake, delay)

    async def _step_unless_stopped(self, stop: asyncio.Event) -> float | None:
        """`step()`'s delay; None when `stop` came first (the step is cancelled)."""
        return await unless_stopped(
            self.step(),
            stop,
            log=log,
            abandoning="stopping: the batch in flight is abandoned, a commit under way completes",
        )

    async def step(self) -> float:
        """One batch; returns how long to wait before the next one."""
        try:
            if self._reconciler is not None:
                # placed first (if new), so that a stale start can be repaired
                cursor = await self._sync.cursor()
                self._swept(await self._reconciler.repair_stale_cursor(cursor))
                self._swept(await self._reconciler.light_sweep_if_due())
                self._swept(await self._reconciler.deep_sweep_if_due())
            started = time.monotonic()
            outcome = await self._sync.run_batch()
            seconds = time.monotonic() - started
        except PortError as exc:
            if isinstance(exc, self._stop_on):
                raise
            return await self._failed(exc)
        self._succeeded(outcome, seconds)
        if outcome.full:
            return 0.0
        if outcome.retry_pending:
            return self._backoff.delay(1)
        return self._idle

    async def _failed(self, exc: PortError) -> float:
        status = self.status
        status.consecutive_failures += 1
        status.last_error = f"{type(exc).__name__}: {exc}"
        status.last_error_at = now = self._clock.now()
        delay = self._backoff.delay(status.consecutive_failures)
        log.warning(
            "poll failed, cursor held",
            extra={
                "account": self._sync.account,
                "error": status.last_error,
                "retry_in_seconds": round(delay, 2),
            },
        )
        if self._observer is not None:
            self._observer.poll_failed(exc)
        if self._error_log is not None:
            try:
                await self._error_log.record_poll_error(self._sync.account, status.last_error, now)
            except PortError as unrecorded:  # the store may be what is failing
                log.debug("poll error not recorded", extra={"error": str(unrecorded)})
        return delay

    def _swept(self, outcome: SweepOutcome | None) -> None:
        if outcome is None:
            return
        self.status.published += outcome.published
        self.status.dead_lettered += len(outcome.dead_letters)
        if self._observer is not None:
            self._observer.sweep_done(outcome)

    def _succeeded(self, outcome: BatchOutcome, seconds: float) -> None:
        status = self.status
        status.consecutive_failures = 0
        status.last_success_at = self._clock.now()
        status.batches += 1
        status.published += len(outcome.published)
        status.dead_lettered += len(outcome.dead_letters)
        if self._observer is not None:
            self._observer.batch_done(outcome, seconds)
        if outcome.events_read:
            log.info(
                "batch committed" if outcome.committed else "batch held for retry",
                extra={
                    "account": self._sync.account,
                    "events": outcome.events_read,
                    "orders": outcome.orders_read,
                    "published": len(outcome.published),
                    "dead_lettered": len(outcome.dead_letters),
                    "cursor": outcome.cursor.position if outcome.cursor else None,
                },
            )


async def _wait(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    """Waits `seconds`, or until `stop` or `wake` is set."""
    waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())}
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
