"""SQLite's one writer: the state file's writer lock plays the part PostgreSQL's lease does.

`run` takes the lock before it polls; while another process holds it (a `backfill`, a
second `run` on the same file) it waits on standby, says once who holds it, and asks
again every `retry_every` seconds. One-shot commands (`run --once`, `backfill`) take it
or fail at once, naming the holder. A holder that dies frees the lock with its process.
An in-memory database (no lock) is private to its process: nothing to guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

from adapters.persistence import SqliteWriterLock
from application.ports.clock import Clock
from entrypoints.health import Role
from entrypoints.leadership import Lead

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_SECONDS = 2.0


class SingleWriter:
    def __init__(
        self,
        lock: SqliteWriterLock | None,
        *,
        holder: str,
        clock: Clock,
        on_role: Callable[[Role], None] = lambda role: None,
        retry_every: float = RETRY_SECONDS,
    ) -> None:
        self._lock = lock
        self.holder = holder
        self._clock = clock
        self._on_role = on_role
        self._retry_every = retry_every

    async def run(self, stop: asyncio.Event, lead: Lead[None]) -> None:
        """Standby until the file's lock is ours (or `stop`), then `lead` until it ends."""
        if not await self._wait_for_lock(stop):
            return
        try:
            self._on_role(Role.SINGLE)
            await lead(stop)
        finally:
            if self._lock is not None:
                await self._lock.release()

    async def exclusively(self, command: str, work: Lead[T]) -> T:
        """One-shot commands: the lock now, or `WriterLockHeld` naming who holds it."""
        if self._lock is None:
            return await work(asyncio.Event())
        await self._lock.acquire(self.holder, command, self._clock.now())
        try:
            return await work(asyncio.Event())
        finally:
            await self._lock.release()

    async def _wait_for_lock(self, stop: asyncio.Event) -> bool:
        lock = self._lock
        if lock is None:
            return True
        told: str | None = None
        while not stop.is_set():
            info = await lock.try_acquire(self.holder, "run", self._clock.now())
            if info is None:
                if told is not None:
                    log.info("the state file is free now: this process polls")
                return True
            self._on_role(Role.STANDBY)
            if info.holder is not None and info.holder != told:
                told = info.holder
                log.warning(
                    "another process writes to the SQLite state file: waiting until it ends",
                    extra={"lock": str(lock.path), "holder": info.describe()},
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._retry_every)
        return False
