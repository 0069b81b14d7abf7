"""A database written by the release before the dead-letter index (issue 12, item 9) opens,
migrates, keeps its data, and indexes dead letters from then on; on both SQL backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.persistence import (
    POSTGRES_MIGRATIONS,
    SQLITE_MIGRATIONS,
    PostgresDatabase,
    PostgresStateStore,
    SqliteDatabase,
    SqliteLocation,
    SqliteStateStore,
    StateLocation,
)
from application.ports.publisher import DEAD_LETTERS, OutboundMessage
from application.ports.state import Cursor, Quarantined, StagedBatch
from tests.integration.persistence.backends import DURABLE_KINDS, open_backend

ACCOUNT = "shop"


def before_the_index(location: StateLocation) -> int:
    """How many migrations the previous release had (the index is the last one)."""
    released = SQLITE_MIGRATIONS if isinstance(location, SqliteLocation) else POSTGRES_MIGRATIONS
    assert "dead-letter index" in released[-1].description
    return len(released) - 1


@pytest.fixture(params=DURABLE_KINDS)
async def location(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateLocation]:
    async with open_backend(request.param, tmp_path) as backend:
        assert backend.location is not None
        yield backend.location


async def open_store(location: StateLocation) -> SqliteStateStore | PostgresStateStore:
    if isinstance(location, SqliteLocation):
        return SqliteStateStore(await SqliteDatabase.open(location.path))
    return PostgresStateStore(await PostgresDatabase.open(location))


async def test_an_older_database_gets_the_index_and_keeps_its_state(
    location: StateLocation,
) -> None:
    count = before_the_index(location)
    if isinstance(location, SqliteLocation):
        old: SqliteDatabase | PostgresDatabase = await SqliteDatabase.open(
            location.path, SQLITE_MIGRATIONS[:count]
        )
    else:
        old = await PostgresDatabase.open(location, POSTGRES_MIGRATIONS[:count])
    async with old.transaction("arrange") as connection:
        await connection.execute("INSERT INTO cursors (account, position) VALUES ('shop', '9')")
        await connection.execute(
            "INSERT INTO failures (account, checkout_form_id, attempts, last_error) "
            "VALUES ('shop', 'cf-1', 2, 'boom')"
        )
    await old.aclose()

    store = await open_store(location)
    try:
        assert await store.load_cursor(ACCOUNT) == Cursor("9")
        assert await store.load_quarantined(ACCOUNT) == ()
        entry = Quarantined("cf-1", "10", "boom", 3, datetime(2026, 3, 14, tzinfo=UTC))
        message = OutboundMessage(DEAD_LETTERS, b"cf-1", b"{}", ())
        await store.stage(ACCOUNT, StagedBatch(Cursor("10"), (), ("cf-1",), (message,), (entry,)))
        await store.commit(ACCOUNT, Cursor("10"), (), ("cf-1",))

        assert await store.load_quarantined(ACCOUNT) == (entry,)
        assert (await store.load_errors(ACCOUNT)).failing_orders == ()
    finally:
        await store.aclose()
