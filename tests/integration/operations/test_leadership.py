"""Leadership on a real PostgreSQL lease, in process: the fence, the keeper, the release."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from psycopg import sql

from adapters.persistence import (
    LeaseFence,
    LeaseLost,
    PostgresLease,
    PostgresLocation,
    PostgresStateStore,
)
from application.poll_loop import Backoff, PollLoop
from application.ports.state import Cursor
from application.sync_orders import SyncSettings
from domain.policy import ImportPolicy
from entrypoints.assembly import order_import
from entrypoints.health import Role
from entrypoints.leadership import Leadership, LeaseUnavailable
from tests.integration.persistence.backends import open_backend, pg_execute
from tests.support.builders import make_order_snapshot
from tests.support.fakes import FakeAllegro, FakeClock, InMemoryEventPublisher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ACCOUNT = "shop"
TTL = timedelta(seconds=1.5)


@pytest.fixture
async def location(tmp_path: Path) -> AsyncIterator[PostgresLocation]:
    async with open_backend("postgresql", tmp_path) as backend:
        assert isinstance(backend.location, PostgresLocation)
        yield backend.location


@pytest.fixture
async def leases(location: PostgresLocation) -> AsyncIterator[PostgresLease]:
    async with await PostgresLease.open(location) as opened:
        yield opened


@pytest.fixture
async def crashed(location: PostgresLocation) -> AsyncIterator[PostgresLease]:
    """Another replica's lease: a test closes it as a SIGKILL would (its connections end)."""
    async with await PostgresLease.open(location) as opened:
        yield opened


async def steal(location: PostgresLocation, leases: PostgresLease, thief: str) -> None:
    """Another replica takes the lease, as if this one had stalled past its ttl."""
    await pg_execute(
        sql.SQL("UPDATE {}.leases SET expires_at = now() WHERE account = %s").format(
            sql.Identifier(location.schema)
        ),
        (ACCOUNT,),
    )
    assert await leases.acquire(ACCOUNT, thief, timedelta(minutes=5)) is not None


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def leadership(
    leases: PostgresLease,
    fence: LeaseFence,
    roles: list[Role],
    ttl: timedelta = TTL,
    patience: timedelta = timedelta(0),
) -> Leadership:
    return Leadership(
        leases,
        fence,
        account=ACCOUNT,
        holder="replica-a",
        ttl=ttl,
        on_role=roles.append,
        patience=patience,
    )


async def test_a_fenced_ex_leader_cannot_move_the_cursor_and_goes_back_to_standby(
    location: PostgresLocation, leases: PostgresLease
) -> None:
    fence, roles = LeaseFence(), []
    allegro, publisher = FakeAllegro(), InMemoryEventPublisher()
    allegro.emit("READY_FOR_PROCESSING", make_order_snapshot(id="first"))
    async with await PostgresStateStore.open(location, fence) as store:
        sync = order_import(
            allegro,
            allegro,
            publisher,
            store,
            ImportPolicy(account=ACCOUNT),
            SyncSettings(account=ACCOUNT, start_from="earliest"),
            FakeClock(),
        ).sync
        loop = PollLoop(sync, FakeClock(), 0.01, Backoff(jitter=lambda: 0.0), stop_on=(LeaseLost,))
        stop = asyncio.Event()
        lost = asyncio.Event()

        async def lead(stop: asyncio.Event) -> None:
            await loop.run(stop)

        async def run_until_lost() -> None:
            lease = await leader.try_acquire()
            assert lease is not None
            try:
                await leader.hold(lease, stop, lead)
            except LeaseLost:
                lost.set()

        # A long ttl: the keeper does not renew during the test, so the commit's own
        # fence check is what finds the lease gone.
        leader = leadership(leases, fence, roles, ttl=timedelta(minutes=1))
        task = asyncio.create_task(run_until_lost())
        await until(lambda: len(publisher.published) == 1)
        committed = await store.load_cursor(ACCOUNT)
        await steal(location, leases, "replica-b")
        allegro.emit("READY_FOR_PROCESSING", make_order_snapshot(id="second"))
        await asyncio.wait_for(lost.wait(), timeout=10)
        await task

        assert committed == Cursor(allegro.events[0].id)
        assert await store.load_cursor(ACCOUNT) == committed
        assert roles == [Role.LEADER, Role.STANDBY]
        assert fence.lease is None
        assert await leases.acquire(ACCOUNT, "replica-a", TTL) is None  # b still holds it


async def test_the_keeper_notices_a_lost_lease_and_cancels_the_work(
    location: PostgresLocation, leases: PostgresLease
) -> None:
    fence, roles = LeaseFence(), []
    leader = leadership(leases, fence, roles)
    cancelled = asyncio.Event()

    async def work_forever(stop: asyncio.Event) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    lease = await leader.try_acquire()
    assert lease is not None
    holding = asyncio.create_task(leader.hold(lease, asyncio.Event(), work_forever))
    await steal(location, leases, "replica-b")
    started = time.monotonic()

    with pytest.raises(LeaseLost):
        await asyncio.wait_for(holding, timeout=10)

    assert cancelled.is_set()
    assert time.monotonic() - started <= TTL.total_seconds()
    assert roles == [Role.LEADER, Role.STANDBY]


async def test_the_lease_is_renewed_while_leading_and_released_on_a_graceful_stop(
    leases: PostgresLease,
) -> None:
    fence, roles = LeaseFence(), []
    leader = leadership(leases, fence, roles)
    stop = asyncio.Event()
    tokens: list[int] = []

    async def lead(stop: asyncio.Event) -> None:
        await asyncio.sleep(TTL.total_seconds() * 2)  # outlives the ttl: renewals keep it
        assert fence.lease is not None
        tokens.append(fence.lease.fencing_token)
        stop.set()

    await asyncio.wait_for(leader.run(stop, lead), timeout=10)
    successor = await leases.acquire(ACCOUNT, "replica-b", TTL)

    assert tokens == [1]
    assert successor is not None
    assert successor.fencing_token == 2
    assert roles == [Role.LEADER, Role.STANDBY]


async def test_a_standby_waits_and_takes_over_when_the_leader_stops_renewing(
    leases: PostgresLease,
) -> None:
    assert await leases.acquire(ACCOUNT, "replica-b", TTL) is not None  # then b "dies"
    fence, roles = LeaseFence(), []
    leader = leadership(leases, fence, roles)
    stop = asyncio.Event()
    led_at: list[float] = []
    started = time.monotonic()

    async def lead(stop: asyncio.Event) -> None:
        led_at.append(time.monotonic() - started)
        stop.set()

    await asyncio.wait_for(leader.run(stop, lead), timeout=10)

    assert roles[0] == Role.STANDBY
    assert Role.LEADER in roles
    assert led_at[0] <= TTL.total_seconds() + leader.retry_every + 0.5


async def test_one_shot_commands_fail_at_once_when_another_replica_leads(
    leases: PostgresLease,
) -> None:
    assert await leases.acquire(ACCOUNT, "replica-b", timedelta(minutes=5)) is not None
    leader = leadership(leases, LeaseFence(), [])

    async def never(stop: asyncio.Event) -> None:
        raise AssertionError("must not run without the lease")

    with pytest.raises(LeaseUnavailable, match="another replica is polling account 'shop'"):
        await leader.exclusively(never)


async def test_a_standby_takes_over_as_soon_as_the_leaders_session_ends(
    crashed: PostgresLease, leases: PostgresLease
) -> None:
    assert await crashed.acquire(ACCOUNT, "replica-b", timedelta(minutes=5)) is not None
    roles: list[Role] = []
    leader = leadership(leases, LeaseFence(), roles)
    stop = asyncio.Event()
    led_at: list[float] = []

    async def lead(stop: asyncio.Event) -> None:
        led_at.append(time.monotonic())
        stop.set()

    running = asyncio.create_task(leader.run(stop, lead))
    await until(lambda: Role.STANDBY in roles)
    await crashed.aclose()  # as on SIGKILL: its connections close, its 5-minute lease stays
    closed_at = time.monotonic()
    await asyncio.wait_for(running, timeout=10)

    assert roles == [Role.STANDBY, Role.LEADER, Role.STANDBY]
    assert led_at[0] - closed_at < 2.0


async def test_one_shot_commands_wait_for_the_lease_and_run_once_its_holder_is_gone(
    crashed: PostgresLease, leases: PostgresLease, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="entrypoints.leadership")
    assert await crashed.acquire(ACCOUNT, "replica-b", timedelta(minutes=5)) is not None
    fence = LeaseFence()
    leader = leadership(leases, fence, [], patience=timedelta(seconds=30))
    tokens: list[int] = []

    async def once(stop: asyncio.Event) -> str:
        assert fence.lease is not None
        tokens.append(fence.lease.fencing_token)
        return "drained"

    draining = asyncio.create_task(leader.exclusively(once))
    await until(lambda: "another replica holds the lease: waiting for it" in caplog.messages)
    assert not draining.done()
    await crashed.aclose()
    closed_at = time.monotonic()

    assert await asyncio.wait_for(draining, timeout=10) == "drained"
    assert time.monotonic() - closed_at < 2.0
    assert tokens == [2]


async def test_one_shot_commands_give_up_after_their_bound_naming_the_holder(
    leases: PostgresLease,
) -> None:
    assert await leases.acquire(ACCOUNT, "replica-b", timedelta(minutes=5)) is not None
    leader = leadership(leases, LeaseFence(), [], patience=timedelta(seconds=0.5))

    async def never(stop: asyncio.Event) -> None:
        raise AssertionError("must not run without the lease")

    started = time.monotonic()
    with pytest.raises(LeaseUnavailable) as raised:
        await asyncio.wait_for(leader.exclusively(never), timeout=10)

    assert 0.5 <= time.monotonic() - started < 3.0
    message = str(raised.value)
    assert "another replica is polling account 'shop': replica-b holds the lease" in message
    assert "waited 0.5 s (LEASE_WAIT_SECONDS)" in message
    assert "\n" not in message
