"""Opening a store creates or migrates the schema, on both SQL backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from adapters.persistence import (
    POSTGRES_MIGRATIONS,
    SQLITE_MIGRATIONS,
    Migration,
    PostgresDatabase,
    PostgresLocation,
    PostgresStateStore,
    SqliteDatabase,
    SqliteLocation,
    StateLocation,
)
from application.ports.errors import StateStoreError
from application.ports.state import Cursor
from tests.integration.persistence.backends import DURABLE_KINDS, open_backend

EXTRA = "CREATE TABLE extra (note TEXT NOT NULL)"

Database = SqliteDatabase | PostgresDatabase


@pytest.fixture(params=DURABLE_KINDS)
async def location(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateLocation]:
    async with open_backend(request.param, tmp_path) as backend:
        assert backend.location is not None
        yield backend.location


async def open_database(location: StateLocation, extra: Sequence[str] = ()) -> Database:
    """Opens with the released migrations plus one test migration per `extra` statement."""
    if isinstance(location, SqliteLocation):
        return await SqliteDatabase.open(location.path, with_extra(SQLITE_MIGRATIONS, extra))
    return await PostgresDatabase.open(location, with_extra(POSTGRES_MIGRATIONS, extra))


def with_extra(released: Sequence[Migration], extra: Sequence[str]) -> list[Migration]:
    added = [Migration(len(released) + n, "test", (sql,)) for n, sql in enumerate(extra, 1)]
    return [*released, *added]


def latest(location: StateLocation) -> int:
    return len(SQLITE_MIGRATIONS if isinstance(location, SqliteLocation) else POSTGRES_MIGRATIONS)


async def versions(database: Database) -> list[int]:
    rows = await database.fetch_all("reading", "SELECT version FROM schema_version")
    return [row[0] for row in rows]


async def test_a_new_database_gets_the_latest_schema(location: StateLocation) -> None:
    database = await open_database(location)
    try:
        assert await versions(database) == [latest(location)]
    finally:
        await database.aclose()


async def test_opening_twice_changes_nothing(location: StateLocation) -> None:
    await (await open_database(location)).aclose()

    database = await open_database(location)
    try:
        assert await versions(database) == [latest(location)]
    finally:
        await database.aclose()


async def test_an_older_schema_is_migrated_and_keeps_its_data(location: StateLocation) -> None:
    old = await open_database(location)
    async with old.transaction("arrange") as connection:
        await connection.execute("INSERT INTO cursors (account, position) VALUES ('a', '9')")
    await old.aclose()

    new = await open_database(location, extra=[EXTRA])
    try:
        assert await versions(new) == [latest(location) + 1]
        assert await new.fetch_all("reading", "SELECT note FROM extra") == []
        assert await new.fetch_all("reading", "SELECT position FROM cursors") == [("9",)]
    finally:
        await new.aclose()


async def test_a_failing_migration_leaves_the_old_schema(location: StateLocation) -> None:
    await (await open_database(location)).aclose()

    with pytest.raises(StateStoreError, match="migrating the schema"):
        await open_database(location, extra=[EXTRA, "THIS IS NOT SQL"])

    database = await open_database(location)
    try:
        assert await versions(database) == [latest(location)]
    finally:
        await database.aclose()


async def test_a_schema_from_a_newer_release_is_refused(location: StateLocation) -> None:
    await (await open_database(location, extra=[EXTRA])).aclose()

    with pytest.raises(StateStoreError, match="newer than this release"):
        await open_database(location)


@pytest.mark.integration
async def test_replicas_opening_a_new_schema_together_all_succeed() -> None:
    async with open_backend("postgresql", Path()) as backend:
        assert isinstance(backend.location, PostgresLocation)
        location = backend.location

        stores = await asyncio.gather(*(PostgresStateStore.open(location) for _ in range(4)))
        try:
            await stores[0].commit("shop", Cursor("1"))
            assert await stores[3].load_cursor("shop") == Cursor("1")
        finally:
            for store in stores:
                await store.aclose()
