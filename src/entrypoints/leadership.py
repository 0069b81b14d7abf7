"""Several replicas, one writer: the PostgreSQL lease decides which replica polls.

A replica that holds the account's lease leads: it builds the Allegro client (so tokens
are refreshed only under the lease), polls, and renews the lease from a background task
every third of its ttl. The others stay on standby: each waits on the leader's lock
session (see adapters/persistence/postgres_lease.py) for up to a sixth of the ttl, then
tries the lease again. A leader whose process dies (SIGKILL included) is replaced as soon
as PostgreSQL sees its connection close; one that stalls, or whose host vanishes without
closing its connection, within ttl + ttl/6 of its last renewal. The `LeaseFence` makes commits
check the lease in their own transaction: a leader that stalled past its lease cannot move
the cursor, and its loop stops on `LeaseLost` and goes back to standby.

One-shot commands wait for the lease up to a bound (`LEASE_WAIT_SECONDS`), the same way a
standby does, then fail naming the holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from adapters.persistence import Lease, LeaseFence, LeaseLost, PostgresLease
from application.ports.errors import PortError, StateStoreError
from entrypoints.health import Role

log = logging.getLogger(__name__)
T = TypeVar("T")

Lead = Callable[[asyncio.Event], Coroutine[Any, Any, T]]


class LeaseUnavailable(PortError):
    """Another replica held the lease for as long as a one-shot command would wait."""


def default_holder() -> str:
    """Names this process in the lease row (and in pg_stat_activity's neighbours' logs)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Leadership:
    def __init__(
        self,
        leases: PostgresLease,
        fence: LeaseFence,
        *,
        account: str,
        holder: str,
        ttl: timedelta,
        on_role: Callable[[Role], None] = lambda role: None,
        monotonic: Callable[[], float] = time.monotonic,
        patience: timedelta = timedelta(0),
    ) -> None:
        self._leases = leases
        self._fence = fence
        self._account = account
        self.holder = holder
        self._ttl = ttl
        self._on_role = on_role
        self._monotonic = monotonic
        self._patience = patience  # how long a one-shot command waits for the lease
        self._valid_until = 0.0  # monotonic time by which the lease has surely expired

    @property
    def renew_every(self) -> float:
        return self._ttl.total_seconds() / 3

    @property
    def retry_every(self) -> float:
        return self._ttl.total_seconds() / 6

    async def run(self, stop: asyncio.Event, lead: Lead[None]) -> None:
        """Standby until the lease is ours, lead while it is, standby again if it is lost;
        until `stop` is set. A graceful stop releases the lease for the next replica."""
        while not stop.is_set():
            lease = await self.try_acquire()
            if lease is None:
                self._on_role(Role.STANDBY)
                await self._await_turn(stop, self.retry_every)
                continue
            with contextlib.suppress(LeaseLost):  # logged by `hold`; try again at once
                await self.hold(lease, stop, lead)

    async def try_acquire(self) -> Lease | None:
        started = self._monotonic()
        try:
            async with asyncio.timeout(self.renew_every):
                lease = await self._leases.acquire(self._account, self.holder, self._ttl)
        except (StateStoreError, TimeoutError) as exc:
            log.warning(
                "cannot reach the lease",
                extra={"account": self._account, "error": f"{type(exc).__name__}: {exc}"},
            )
            return None
        if lease is not None:
            self._valid_until = started + self._ttl.total_seconds()
        return lease

    async def exclusively(self, work: Lead[T]) -> T:
        """One-shot commands (`run --once`, `backfill`): the lease once it is free, or
        LeaseUnavailable naming its holder after `patience`."""
        deadline = self._monotonic() + self._patience.total_seconds()
        told = False
        while (lease := await self.try_acquire()) is None:
            left = deadline - self._monotonic()
            if left <= 0:
                raise LeaseUnavailable(await self._unavailable())
            if not told:
                told = True
                log.info(
                    "another replica holds the lease: waiting for it",
                    extra={"account": self._account, "up_to_seconds": round(left, 1)},
                )
            await self._await_turn(asyncio.Event(), min(self.retry_every, left))
        return await self.hold(lease, asyncio.Event(), work)

    async def hold(self, lease: Lease, stop: asyncio.Event, lead: Lead[T]) -> T:
        """Runs `lead` while renewing `lease`; raises LeaseLost (after cancelling `lead`)
        as soon as the lease is lost, releases it when `lead` ends any other way."""
        self._fence.lease = lease
        self._on_role(Role.LEADER)
        log.info(
            "lease acquired: this replica polls the account",
            extra={"account": self._account, "holder": self.holder, "fencing": lease.fencing_token},
        )
        work = asyncio.create_task(lead(stop), name="lead")
        keeper = asyncio.create_task(self._keep(), name="lease-keeper")
        try:
            await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel(work, keeper)
            current, self._fence.lease = self._fence.lease, None
            lost = (keeper.done() and not keeper.cancelled()) or _lost(work)
            if not lost and current is not None:
                await self._release(current)
            self._on_role(Role.STANDBY)
        if lost:
            log.warning(
                "lease lost: back to standby (nothing more is committed by this replica)",
                extra={"account": self._account, "holder": self.holder},
            )
            raise LeaseLost(f"the lease of account {self._account!r} was lost")
        return work.result()

    async def _keep(self) -> None:
        """Renews the lease; returns once it is lost, or once it can no longer be renewed
        before it expires (a renewal that hangs is cut short at that moment too)."""
        margin = min(1.0, self.retry_every)
        delay = self.renew_every
        while True:
            await asyncio.sleep(delay)
            lease = self._fence.lease
            started = self._monotonic()
            left = self._valid_until - margin - started
            if lease is None or left <= 0:
                return
            try:
                async with asyncio.timeout(min(self.renew_every, left)):
                    renewed = await self._leases.renew(lease, self._ttl)
            except LeaseLost:
                return
            except (StateStoreError, TimeoutError) as exc:
                log.warning(
                    "lease renewal failed, retrying",
                    extra={"account": self._account, "error": f"{type(exc).__name__}: {exc}"},
                )
                delay = max(min(margin, self._valid_until - margin - self._monotonic()), 0.0)
                continue
            self._fence.lease = renewed
            self._valid_until = started + self._ttl.total_seconds()
            delay = self.renew_every

    async def _release(self, lease: Lease) -> None:
        try:
            async with asyncio.timeout(self.renew_every):
                await self._leases.release(lease)
        except (StateStoreError, TimeoutError) as exc:
            log.warning(
                "lease not released: the next replica takes over when it expires",
                extra={"account": self._account, "error": f"{type(exc).__name__}: {exc}"},
            )
            return
        log.info("lease released", extra={"account": self._account, "holder": self.holder})

    async def _await_turn(self, stop: asyncio.Event, seconds: float) -> None:
        """Waits until the lease may be free: its holder's lock session ended (PostgreSQL
        tells at once), `seconds` passed, or `stop`."""
        started = self._monotonic()
        waiting = asyncio.create_task(self._holder_gone(seconds), name="lease-wait")
        stopping = asyncio.create_task(stop.wait(), name="lease-wait-stop")
        try:
            await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel(waiting, stopping)
        if waiting.done() and not waiting.cancelled() and waiting.result():
            return
        await _wait(stop, seconds - (self._monotonic() - started))

    async def _holder_gone(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds + self.retry_every):
                return await self._leases.wait_for_holder(
                    self._account, self.holder, timedelta(seconds=seconds)
                )
        except (StateStoreError, TimeoutError) as exc:  # try_acquire says so at warning level
            log.debug(
                "cannot wait for the lease's holder",
                extra={"account": self._account, "error": f"{type(exc).__name__}: {exc}"},
            )
            return False

    async def _unavailable(self) -> str:
        waited = f"waited {self._patience.total_seconds():g} s (LEASE_WAIT_SECONDS)"
        try:
            async with asyncio.timeout(self.renew_every):
                lease = await self._leases.current(self._account)
        except (StateStoreError, TimeoutError) as exc:
            return f"the lease of account {self._account!r} could not be taken ({waited}): {exc}"
        if lease is None:
            return f"the lease of account {self._account!r} could not be taken ({waited})"
        return (
            f"another replica is polling account {self._account!r}: {lease.holder} holds the "
            f"lease (fencing token {lease.fencing_token}); {waited}; stop the service's "
            "replicas first, or retry later"
        )


def _lost(work: asyncio.Task[object]) -> bool:
    return work.done() and not work.cancelled() and isinstance(work.exception(), LeaseLost)


async def _cancel(*tasks: asyncio.Task[object]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
