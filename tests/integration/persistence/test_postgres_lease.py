"""The leader lease: one holder per account, fencing tokens that only grow, fenced commits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
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


@pytest.fixture
async def location(tmp_path: Path) -> AsyncIterator[PostgresLocation]:
    async with open_backend("postgresql", tmp_path) as backend:
        assert isinstance(backend.location, PostgresLocation)
        yield backend.location


@pytest.fixture
async def leases(location: PostgresLocation) -> AsyncIterator[PostgresLease]:
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


async def _held(leases: PostgresLease, holder: str) -> Lease:
    lease = await leases.acquire("shop", holder, TTL)
    assert lease is not None
    return lease
