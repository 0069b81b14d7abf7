"""The long-running poll: batches back to back while the journal is busy, idle waits
otherwise, exponential backoff on outages. Stops between batches when asked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from application.ports.clock import Clock
from application.ports.errors import PortError
from application.reconcile import Reconciler
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


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 1.0
    maximum: float = 300.0
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
    ) -> None:
        self._sync = sync
        self._reconciler = reconciler
        self._clock = clock
        self._idle = idle_seconds
        self._backoff = backoff or Backoff()
        self.status = status or LoopStatus()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            delay = await self.step()
            if delay > 0:
                await _wait(stop, delay)

    async def step(self) -> float:
        """One batch; returns how long to wait before the next one."""
        try:
            if self._reconciler is not None:
                await self._sync.cursor()  # placed first, so a stale start can be repaired
                await self._reconciler.repair_stale_cursor()
                await self._reconciler.light_sweep_if_due()
            outcome = await self._sync.run_batch()
        except PortError as exc:
            return self._failed(exc)
        self._succeeded(outcome)
        if outcome.full:
            return 0.0
        if outcome.retry_pending:
            return self._backoff.delay(1)
        return self._idle

    def _failed(self, exc: PortError) -> float:
        status = self.status
        status.consecutive_failures += 1
        status.last_error = f"{type(exc).__name__}: {exc}"
        status.last_error_at = self._clock.now()
        delay = self._backoff.delay(status.consecutive_failures)
        log.warning(
            "poll failed, cursor held",
            extra={
                "account": self._sync.account,
                "error": status.last_error,
                "retry_in_seconds": round(delay, 2),
            },
        )
        return delay

    def _succeeded(self, outcome: BatchOutcome) -> None:
        status = self.status
        status.consecutive_failures = 0
        status.last_success_at = self._clock.now()
        status.batches += 1
        status.published += len(outcome.published)
        status.dead_lettered += len(outcome.dead_letters)
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


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
