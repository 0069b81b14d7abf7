"""The leader lease: one holder per account, fencing tokens that only grow, fenced commits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from psycopg import sql

from adapters.persistence import (
    Lease,
    LeaseFence,
    LeaseLost,
    PostgresLease,
    PostgresLocation,
    PostgresStateStore,
)
from application.ports.state import Cursor
from tests.contract.test_state_store_contract import make_record
from tests.integration.persistence.backends import open_backend, pg_execute

pytestmark = pytest.mark.integration

TTL = timedelta(seconds=30)
PROMPTLY = 5.0  # seconds: a takeover that waits for the 30 s ttl cannot make it


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
async def holder(location: PostgresLocation) -> AsyncIterator[PostgresLease]:
    """A second replica's lease, which a test may close early (as a crash would)."""
    async with await PostgresLease.open(location) as opened:
        yield opened


async def expire(location: PostgresLocation, account: str) -> None:
    """As if the ttl had run out, without waiting for it."""
    await pg_execute(
        sql.SQL(
            "UPDATE {}.leases SET expires_at = now() - interval '1 second' WHERE account = %s"
        ).format(sql.Identifier(location.schema)),
        (account,),
    )


async def lock_session_pids(location: PostgresLocation, account: str) -> list[int]:
    """The server processes holding the account's lease lock (its holder's lock session)."""
    rows = await pg_execute(
        """
        SELECT pid FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 2
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = (hashtext('openoms_allegro.lease')::bigint & 4294967295)::oid
          AND objid = (hashtext(%s)::bigint & 4294967295)::oid
        """,
        (f"{location.schema}/{account}",),
    )
    return [row[0] for row in rows]


async def terminate_lock_session(location: PostgresLocation, account: str) -> None:
    """As if the holder's lock connection dropped (its process lives on)."""
    pids = await lock_session_pids(location, account)
    assert len(pids) == 1, f"expected one lock session, found {pids}"
    await pg_execute("SELECT pg_terminate_backend(%s)", (pids[0],))
    await eventually(lambda: _none_hold(location, account), "the lock session to end")


async def _none_hold(location: PostgresLocation, account: str) -> bool:
    return not await lock_session_pids(location, account)


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Polls `condition` until it holds, failing after PROMPTLY seconds."""
    deadline = time.monotonic() + PROMPTLY
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_the_first_holder_gets_token_one_and_others_wait(leases: PostgresLease) -> None:
    first = await leases.acquire("shop", "replica-a", TTL)

    assert first is not None
    assert (first.holder, first.fencing_token) == ("replica-a", 1)
    assert await leases.acquire("shop", "replica-b", TTL) is None


async def test_current_names_the_holder_until_the_lease_runs_out(
    leases: PostgresLease, location: PostgresLocation
) -> None:
    assert await leases.current("shop") is None  # never held

    held = await leases.acquire("shop", "replica-a", TTL)
    assert await leases.current("shop") == held
    assert await leases.current("other-shop") is None

    await expire(location, "shop")
    assert await leases.current("shop") is None  # the row stays, the lease is gone


async def test_acquiring_again_while_holding_keeps_the_token(leases: PostgresLease) -> None:
    first = await leases.acquire("shop", "replica-a", TTL)
    again = await leases.acquire("shop", "replica-a", TTL)

    assert first is not None
    assert again is not None
    assert again.fencing_token == first.fencing_token
    assert again.expires_at >= first.expires_at


async def test_an_expired_lease_passes_on_with_a_higher_token(
    leases: PostgresLease, location: PostgresLocation
) -> None:
    await leases.acquire("shop", "replica-a", TTL)
    await expire(location, "shop")

    taken = await leases.acquire("shop", "replica-b", TTL)

    assert taken is not None
    assert (taken.holder, taken.fencing_token) == ("replica-b", 2)


async def test_renewing_extends_a_held_lease(leases: PostgresLease) -> None:
    lease = await leases.acquire("shop", "replica-a", timedelta(seconds=5))
    assert lease is not None

    renewed = await leases.renew(lease, timedelta(minutes=5))

    assert renewed.fencing_token == lease.fencing_token
    assert renewed.expires_at > lease.expires_at + timedelta(minutes=4)


async def test_renewing_a_lost_lease_raises(
    leases: PostgresLease, location: PostgresLocation
) -> None:
    lease = await leases.acquire("shop", "replica-a", TTL)
    assert lease is not None
    await expire(location, "shop")

    with pytest.raises(LeaseLost, match="expired or changed hands"):
        await leases.renew(lease, TTL)


async def test_a_released_lease_is_free_at_once_and_the_token_still_grows(
    leases: PostgresLease,
) -> None:
    lease = await leases.acquire("shop", "replica-a", TTL)
    assert lease is not None

    await leases.release(lease)
    taken = await leases.acquire("shop", "replica-b", TTL)

    assert taken is not None
    assert taken.fencing_token == lease.fencing_token + 1


async def test_releasing_a_lease_already_lost_changes_nothing(leases: PostgresLease) -> None:
    stale = Lease("shop", "replica-a", 1, (await _held(leases, "replica-b")).expires_at)

    await leases.release(stale)

    assert await leases.acquire("shop", "replica-a", TTL) is None


async def test_accounts_have_separate_leases(leases: PostgresLease) -> None:
    await leases.acquire("shop-a", "replica-a", TTL)

    other = await leases.acquire("shop-b", "replica-b", TTL)

    assert other is not None
    assert other.fencing_token == 1


async def test_replicas_racing_for_a_lease_get_exactly_one(location: PostgresLocation) -> None:
    opened = [await PostgresLease.open(location) for _ in range(5)]
    try:
        results = await asyncio.gather(
            *(leases.acquire("shop", f"replica-{n}", TTL) for n, leases in enumerate(opened))
        )
    finally:
        for leases in opened:
            await leases.aclose()

    assert len([lease for lease in results if lease is not None]) == 1


async def test_a_non_positive_ttl_is_refused(leases: PostgresLease) -> None:
    with pytest.raises(ValueError, match="positive"):
        await leases.acquire("shop", "replica-a", timedelta(0))


async def test_a_fenced_commit_succeeds_while_the_lease_is_held(
    leases: PostgresLease, location: PostgresLocation
) -> None:
    fence = LeaseFence()
    fence.lease = await leases.acquire("shop", "replica-a", TTL)

    async with await PostgresStateStore.open(location, fence) as store:
        await store.commit("shop", Cursor("7"), [make_record("cf-1")])

        assert await store.load_cursor("shop") == Cursor("7")


async def test_a_stale_replica_cannot_commit_over_its_successor(
    leases: PostgresLease, location: PostgresLocation
) -> None:
    stale_fence, fence = LeaseFence(), LeaseFence()
    stale_fence.lease = await leases.acquire("shop", "replica-a", TTL)
    async with (
        await PostgresStateStore.open(location, stale_fence) as stale,
        await PostgresStateStore.open(location, fence) as current,
    ):
        await stale.commit("shop", Cursor("1"))
        await expire(location, "shop")  # replica-a paused past its lease
        fence.lease = await leases.acquire("shop", "replica-b", TTL)
        await current.commit("shop", Cursor("2"), [make_record("cf-1")])

        with pytest.raises(LeaseLost, match="nothing was committed"):
            await stale.commit("shop", Cursor("3"), [make_record("cf-1", revision="old")])

        assert await current.load_cursor("shop") == Cursor("2")
        assert dict(await current.load_records("shop", ["cf-1"])) == {"cf-1": make_record("cf-1")}


async def test_a_fenced_commit_under_an_expired_lease_is_refused(
    leases: PostgresLease, location: PostgresLocation
) -> None:
    fence = LeaseFence()
    fence.lease = await leases.acquire("shop", "replica-a", TTL)
    await expire(location, "shop")  # not taken over yet, but no longer held either

    async with await PostgresStateStore.open(location, fence) as store:
        with pytest.raises(LeaseLost):
            await store.commit("shop", Cursor("1"))

        assert await store.load_cursor("shop") is None


async def test_a_fenced_commit_without_a_lease_for_the_account_is_refused(
    leases: PostgresLease, location: PostgresLocation
) -> None:
    fence = LeaseFence()
    async with await PostgresStateStore.open(location, fence) as store:
        with pytest.raises(LeaseLost, match="holds no lease"):
            await store.commit("shop", Cursor("1"))
        fence.lease = await leases.acquire("other-shop", "replica-a", TTL)
        with pytest.raises(LeaseLost, match="holds no lease"):
            await store.commit("shop", Cursor("1"))

        assert await store.load_cursor("shop") is None


async def test_a_crashed_holders_lease_is_taken_over_at_once_with_a_higher_token(
    holder: PostgresLease, leases: PostgresLease
) -> None:
    first = await holder.acquire("shop", "replica-a", TTL)
    assert first is not None
    taken: list[Lease] = []

    async def took_over() -> bool:
        lease = await leases.acquire("shop", "replica-b", TTL)
        taken.extend([lease] if lease is not None else [])
        return lease is not None

    assert not await took_over()  # while the holder's sessions live, it keeps the lease
    await holder.aclose()  # its connections close, as on SIGKILL; the row stays as it was
    await eventually(took_over, "the takeover")

    assert (taken[0].holder, taken[0].fencing_token) == ("replica-b", first.fencing_token + 1)
    assert first.expires_at > datetime.now(UTC) + TTL / 2  # long before the old lease expired


async def test_a_standby_waiting_on_the_holder_wakes_when_its_session_ends(
    holder: PostgresLease, leases: PostgresLease
) -> None:
    standby = leases
    assert await holder.acquire("shop", "replica-a", TTL) is not None
    assert not await standby.wait_for_holder("shop", "replica-b", timedelta(seconds=0.2))
    waiting = asyncio.create_task(
        standby.wait_for_holder("shop", "replica-b", timedelta(minutes=1))
    )
    await holder.aclose()

    assert await asyncio.wait_for(waiting, timeout=PROMPTLY)  # not the minute it may wait
    taken = await standby.acquire("shop", "replica-b", TTL)
    assert taken is not None
    assert taken.fencing_token == 2


async def test_a_holder_whose_lock_session_dropped_is_fenced_once_a_standby_takes_over(
    location: PostgresLocation, holder: PostgresLease, leases: PostgresLease
) -> None:
    standby, fence = leases, LeaseFence()
    async with await PostgresStateStore.open(location, fence) as store:
        fence.lease = lease = await holder.acquire("shop", "replica-a", TTL)
        assert lease is not None
        await terminate_lock_session(location, "shop")  # the process itself lives on

        taken = await standby.acquire("shop", "replica-b", TTL)

        assert taken is not None
        assert taken.fencing_token == lease.fencing_token + 1
        with pytest.raises(LeaseLost, match="nothing was committed"):
            await store.commit("shop", Cursor("1"))
        with pytest.raises(LeaseLost):
            await holder.renew(lease, TTL)


async def test_a_holder_whose_lock_session_dropped_locks_again_when_it_renews(
    location: PostgresLocation, holder: PostgresLease, leases: PostgresLease
) -> None:
    standby = leases
    lease = await holder.acquire("shop", "replica-a", TTL)
    assert lease is not None
    await terminate_lock_session(location, "shop")

    renewed = await holder.renew(lease, TTL)

    assert renewed.fencing_token == lease.fencing_token
    assert len(await lock_session_pids(location, "shop")) == 1
    assert await standby.acquire("shop", "replica-b", TTL) is None


async def test_a_lease_taken_at_expiry_from_a_stalled_holder_passes_on_at_expiry_only(
    location: PostgresLocation,
) -> None:
    """The stalled holder's session still holds the lock: the successor leads without it,
    and a third replica that finds the lock free must not take the lease from it."""
    async with (
        await PostgresLease.open(location) as stalled,
        await PostgresLease.open(location) as successor,
        await PostgresLease.open(location) as third,
    ):
        old = await stalled.acquire("shop", "replica-a", TTL)
        assert old is not None
        await expire(location, "shop")
        taken = await successor.acquire("shop", "replica-b", TTL)
        assert taken is not None

        assert await stalled.acquire("shop", "replica-a", TTL) is None  # woke up: lost
        assert await lock_session_pids(location, "shop") == []  # and gave the lock up
        assert await third.acquire("shop", "replica-c", TTL) is None
        assert not await third.wait_for_holder("shop", "replica-c", timedelta(seconds=0.2))
        renewed = await successor.renew(taken, TTL)  # takes the lock now that it is free
        assert len(await lock_session_pids(location, "shop")) == 1
        await successor.aclose()
        await eventually(lambda: _none_hold(location, "shop"), "the successor's session to end")

        last = await third.acquire("shop", "replica-c", TTL)
        assert last is not None
        assert last.fencing_token == renewed.fencing_token + 1


async def _held(leases: PostgresLease, holder: str) -> Lease:
    lease = await leases.acquire("shop", holder, TTL)
    assert lease is not None
    return lease
