"""The offer store's tables (issue 16) on a database written by the release before them: it
opens, migrates, keeps the order state, and the offer store works on it; a read-only open never
migrates and cannot write; a stale replica cannot write offer state; on both SQL backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiosqlite
import pytest

from adapters.persistence import (
    POSTGRES_MIGRATIONS,
    SQLITE_MIGRATIONS,
    LeaseFence,
    LeaseLost,
    PostgresLease,
    PostgresLocation,
    SqliteDatabase,
    SqliteLocation,
    StateLocation,
)
from adapters.persistence.postgres_offer_store import PostgresOfferStore
from adapters.persistence.sqlite_offer_store import SqliteOfferStore
from application.ports.errors import StateStoreError
from application.ports.offers import OfferCursor
from application.ports.state import Cursor
from tests.contract.test_offer_store_contract import (
    READ_AT,
    make_record,
    make_round,
    make_staged,
)
from tests.contract.test_state_store_contract import make_batch
from tests.integration.persistence.backends import (
    DURABLE_KINDS,
    Database,
    migrations_before,
    open_backend,
    open_database,
    state_store_on,
)

ACCOUNT = "shop-a"
OFFER_TABLES = {"offer_cursors", "offer_records", "staged_offers", "offer_rounds", "ended_offers"}


def latest(location: StateLocation) -> int:
    return len(SQLITE_MIGRATIONS if isinstance(location, SqliteLocation) else POSTGRES_MIGRATIONS)


def offer_store_on(database: Database) -> SqliteOfferStore | PostgresOfferStore:
    if isinstance(database, SqliteDatabase):
        return SqliteOfferStore(database)
    return PostgresOfferStore(database)


async def tables(database: Database) -> set[str]:
    if isinstance(database, SqliteDatabase):
        rows = await database.fetch_all(
            "listing tables", "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    else:
        rows = await database.fetch_all(
            "listing tables",
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (database.location.schema,),
        )
    return {name for (name,) in rows}


@pytest.fixture(params=DURABLE_KINDS)
async def location(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateLocation]:
    async with open_backend(request.param, tmp_path) as backend:
        assert backend.location is not None
        yield backend.location


async def arrange_previous_release(location: StateLocation) -> None:
    """The order state the previous release left: a cursor, and a batch staged by a crash."""
    old = await open_database(location, migrations_before(location, "offers:"))
    try:
        assert not await tables(old) & OFFER_TABLES
        previous = state_store_on(old)
        await previous.commit(ACCOUNT, Cursor("41"))
        await previous.stage(ACCOUNT, make_batch())
    finally:
        await old.aclose()


async def test_the_previous_release_migrates_and_keeps_its_order_state(
    location: StateLocation,
) -> None:
    await arrange_previous_release(location)

    database = await open_database(location)
    try:
        assert await database.fetch_all("", "SELECT version FROM schema_version") == [
            (latest(location),)
        ]
        assert await tables(database) >= OFFER_TABLES
        orders = state_store_on(database)
        assert await orders.load_cursor(ACCOUNT) == Cursor("41")
        assert await orders.load_staged(ACCOUNT) == make_batch()
    finally:
        await database.aclose()


async def test_the_offer_store_works_on_a_migrated_database_beside_the_state_store(
    location: StateLocation,
) -> None:
    """One database, one connection, both stores: their tables and transactions are apart."""
    await arrange_previous_release(location)
    database = await open_database(location)
    try:
        offers, orders = offer_store_on(database), state_store_on(database)
        assert await offers.load_offer_cursor(ACCOUNT) is None
        assert await offers.load_round(ACCOUNT) is None

        await offers.stage_offers(ACCOUNT, make_staged())
        await offers.commit_offers(ACCOUNT, OfferCursor("event-7", READ_AT), [make_record()])
        await offers.stage_round(ACCOUNT, make_round())
        await offers.finish_round(ACCOUNT, ended=["1001"], reactivated=[])

        assert await orders.load_staged(ACCOUNT) == make_batch()  # the order outbox's own
        assert await offers.load_staged_offers(ACCOUNT) is None
        assert await offers.load_offer_cursor(ACCOUNT) == OfferCursor("event-7", READ_AT)
        assert await offers.load_round(ACCOUNT) == (make_round(), True)
        assert await offers.ended_by_service(ACCOUNT, ["1001"]) == {"1001"}
        assert await orders.load_cursor(ACCOUNT) == Cursor("41")
    finally:
        await database.aclose()


async def test_a_read_only_open_never_migrates_the_previous_release(
    location: StateLocation,
) -> None:
    """`status` and `check` on a state the new release has not run on yet: refused, with
    what to do, and nothing created."""
    await arrange_previous_release(location)

    with pytest.raises(StateStoreError, match="older than this release writes"):
        await open_database(location, read_only=True)

    old = await open_database(location, migrations_before(location, "offers:"), read_only=True)
    try:
        assert not await tables(old) & OFFER_TABLES
    finally:
        await old.aclose()


# What each backend says when a write reaches a store opened read-only.
REFUSED = "readonly database|read-only transaction"


async def test_a_read_only_offer_store_reads_and_cannot_write(location: StateLocation) -> None:
    writer = await open_database(location)
    try:
        offers = offer_store_on(writer)
        await offers.commit_offers(ACCOUNT, OfferCursor("event-7", READ_AT), [make_record()])
        await offers.stage_offers(ACCOUNT, make_staged())
        await offers.stage_round(ACCOUNT, make_round())
    finally:
        await writer.aclose()

    database = await open_database(location, read_only=True)
    try:
        reader = offer_store_on(database)
        assert await reader.load_offer_cursor(ACCOUNT) == OfferCursor("event-7", READ_AT)
        assert await reader.load_staged_offers(ACCOUNT) == make_staged()
        assert await reader.load_round(ACCOUNT) == (make_round(), False)
        assert await reader.ended_by_service(ACCOUNT, ["1001"]) == set()

        with pytest.raises(StateStoreError, match=REFUSED):
            await reader.commit_offers(ACCOUNT, OfferCursor("event-8", READ_AT), [])
        with pytest.raises(StateStoreError, match=REFUSED):
            await reader.stage_offers(ACCOUNT, make_staged(cursor=None))
        with pytest.raises(StateStoreError, match=REFUSED):
            await reader.stage_round(ACCOUNT, make_round("p9:1-1"))
        with pytest.raises(StateStoreError, match=REFUSED):
            await reader.finish_round(ACCOUNT, ended=["1001"], reactivated=[])

        assert await reader.load_round(ACCOUNT) == (make_round(), False)
        assert await reader.load_staged_offers(ACCOUNT) == make_staged()
    finally:
        await database.aclose()


async def test_a_value_of_the_wrong_type_in_a_sqlite_row_is_a_clear_error(
    tmp_path: Path,
) -> None:
    """SQLite keeps a BLOB in a TEXT column as it came: read back, it is refused, not used."""
    path = tmp_path / "state.db"
    async with await SqliteOfferStore.open(path) as store:
        await store.commit_offers(ACCOUNT, OfferCursor("event-7", READ_AT), [make_record("1001")])
        async with aiosqlite.connect(path) as connection:
            await connection.execute("UPDATE offer_records SET offer_values = X'00ff'")
            await connection.execute("UPDATE offer_cursors SET read_at = 'yesterday'")
            await connection.commit()

        with pytest.raises(StateStoreError, match="an offer record is unreadable"):
            await store.load_offer_records(ACCOUNT, ["1001"])
        with pytest.raises(StateStoreError, match="the offer cursor is unreadable"):
            await store.load_offer_cursor(ACCOUNT)


@pytest.mark.integration
async def test_a_stale_replica_cannot_write_offer_state(tmp_path: Path) -> None:
    """Every write of the PostgreSQL offer store is fenced, as the state store's commits are."""
    async with open_backend("postgresql", tmp_path) as backend:
        assert isinstance(backend.location, PostgresLocation)
        location = backend.location
        fence = LeaseFence()
        async with (
            await PostgresLease.open(location) as leases,
            await PostgresOfferStore.open(location, fence) as store,
        ):
            with pytest.raises(LeaseLost, match="holds no lease"):
                await store.stage_round(ACCOUNT, make_round())

            fence.lease = await leases.acquire(ACCOUNT, "replica-a", timedelta(seconds=30))
            await store.stage_round(ACCOUNT, make_round())
            await store.stage_offers(ACCOUNT, make_staged())
            fence.lease = None  # lost

            with pytest.raises(LeaseLost):
                await store.stage_round(ACCOUNT, make_round("p9:1-1"))
            with pytest.raises(LeaseLost):
                await store.finish_round(ACCOUNT, ended=["1001"], reactivated=[])
            with pytest.raises(LeaseLost):
                await store.stage_offers(ACCOUNT, make_staged(cursor=None))
            with pytest.raises(LeaseLost):
                await store.commit_offers(ACCOUNT, OfferCursor("event-8", READ_AT), [])

            assert await store.load_round(ACCOUNT) == (make_round(), False)
            assert await store.load_staged_offers(ACCOUNT) == make_staged()
            assert await store.load_offer_cursor(ACCOUNT) is None
