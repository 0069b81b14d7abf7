"""The lease keeper when the database misbehaves (a fake lease; PostgreSQL itself is in
tests/integration/operations/test_leadership.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from adapters.persistence import Lease, LeaseFence, LeaseLost
from application.ports import StateStoreError
from entrypoints.health import Role
from entrypoints.leadership import Leadership

TTL = timedelta(seconds=0.6)


class FakeLeases:
    """acquire/renew/release of PostgresLease; `renewal` decides how renewals go."""

    def __init__(self, renewal: str = "ok") -> None:
        self.renewal = renewal
        self.renewed = 0
        self.released: list[Lease] = []

    async def acquire(self, account: str, holder: str, ttl: timedelta) -> Lease | None:
        return Lease(account, holder, 7, datetime.now(UTC) + ttl)

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease:
        if self.renewal == "down":
            raise StateStoreError("connection refused")
        if self.renewal == "hang":
            await asyncio.Event().wait()
        self.renewed += 1
        return Lease(lease.account, lease.holder, lease.fencing_token, datetime.now(UTC) + ttl)

    async def release(self, lease: Lease) -> None:
        self.released.append(lease)


def make(leases: FakeLeases, roles: list[Role], fence: LeaseFence | None = None) -> Leadership:
    return Leadership(
        leases,  # type: ignore[arg-type]
        fence or LeaseFence(),
        account="shop",
        holder="replica-a",
        ttl=TTL,
        on_role=roles.append,
    )


async def forever(stop: asyncio.Event) -> None:
    await asyncio.Event().wait()


@pytest.mark.parametrize("renewal", ["down", "hang"])
async def test_a_lease_that_cannot_be_renewed_is_given_up_before_it_expires(
    renewal: str,
) -> None:
    leases, roles, fence = FakeLeases(renewal), [], LeaseFence()
    leader = make(leases, roles, fence)
    started = time.monotonic()
    lease = await leader.try_acquire()
    assert lease is not None

    with pytest.raises(LeaseLost):
        await asyncio.wait_for(leader.hold(lease, asyncio.Event(), forever), timeout=5)

    assert time.monotonic() - started <= TTL.total_seconds()
    assert roles == [Role.LEADER, Role.STANDBY]
    assert fence.lease is None
    assert leases.released == []  # lost: nothing to release


async def test_a_healthy_lease_is_renewed_and_the_fence_follows_it() -> None:
    leases, roles, fence = FakeLeases(), [], LeaseFence()
    leader = make(leases, roles, fence)
    seen: list[datetime] = []

    async def lead(stop: asyncio.Event) -> str:
        for _ in range(3):
            await asyncio.sleep(TTL.total_seconds() / 2)
            assert fence.lease is not None
            seen.append(fence.lease.expires_at)
        return "done"

    lease = await leader.try_acquire()
    assert lease is not None

    assert await asyncio.wait_for(leader.hold(lease, asyncio.Event(), lead), timeout=5) == "done"
    assert leases.renewed >= 3
    assert seen == sorted(seen)
    assert seen[-1] > lease.expires_at
    assert len(leases.released) == 1


async def test_an_error_of_the_work_is_raised_after_the_lease_is_released() -> None:
    leases, roles = FakeLeases(), []
    leader = make(leases, roles)

    async def broken(stop: asyncio.Event) -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        await leader.exclusively(broken)

    assert len(leases.released) == 1
    assert roles == [Role.LEADER, Role.STANDBY]


async def test_cancelling_the_leader_cancels_its_work_and_releases_the_lease() -> None:
    leases, leading = FakeLeases(), asyncio.Event()

    async def lead(stop: asyncio.Event) -> None:
        leading.set()
        await forever(stop)

    leader = make(leases, [])
    running = asyncio.create_task(leader.run(asyncio.Event(), lead))
    await asyncio.wait_for(leading.wait(), timeout=5)

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, timeout=5)

    assert len(leases.released) == 1
