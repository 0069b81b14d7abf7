"""The three state backends, opened the way the contract suites need them.

PostgreSQL is part of the default run: when it does not answer, the tests that need it
fail with a message saying how to start it, unless OPENOMS_SKIP_POSTGRES=1.
Each PostgreSQL test gets a throwaway schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import aiosqlite
import psycopg
import pytest
from psycopg import sql

from adapters.persistence import (
    POSTGRES_MIGRATIONS,
    SQLITE_MIGRATIONS,
    MemoryStateStore,
    MemoryTokenStore,
    PostgresDatabase,
    PostgresLocation,
    PostgresStateStore,
    SqliteDatabase,
    SqliteLocation,
    SqliteStateStore,
    StateLocation,
    TokenCipher,
    state_store_resource,
    token_store_resource,
)
from application.ports.state import StateStore, TokenStore

POSTGRES_DSN = os.environ.get(
    "OPENOMS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
KINDS = ("memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.integration))
DURABLE_KINDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.integration))


async def require_postgres() -> None:
    try:
        connection = await psycopg.AsyncConnection.connect(POSTGRES_DSN, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("OPENOMS_SKIP_POSTGRES") == "1":
            pytest.skip(f"PostgreSQL unreachable and OPENOMS_SKIP_POSTGRES=1: {exc}")
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_DSN} ({exc}). Start it (see .ci/run), "
            "point OPENOMS_TEST_POSTGRES_DSN at one, or set OPENOMS_SKIP_POSTGRES=1 to skip "
            "the PostgreSQL tests.",
            pytrace=False,
        )
    await connection.close()


async def pg_execute(query: sql.Composable | str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Runs one statement on a fresh autocommit connection (outside any store)."""
    async with await psycopg.AsyncConnection.connect(POSTGRES_DSN, autocommit=True) as conn:
        cursor = await conn.execute(query, params)  # type: ignore[arg-type]
        return await cursor.fetchall() if cursor.description else []


@asynccontextmanager
async def throwaway_schema() -> AsyncIterator[PostgresLocation]:
    await require_postgres()
    location = PostgresLocation(POSTGRES_DSN, f"test_{uuid.uuid4().hex[:16]}")
    try:
        yield location
    finally:
        await pg_execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(location.schema))
        )


class Backend:
    """Opens stores of one kind; every store it opened is closed when the test ends."""

    def __init__(self, kind: str, location: StateLocation | None) -> None:
        self.kind = kind
        self.location = location
        self._stores = AsyncExitStack()

    @property
    def durable(self) -> bool:
        return self.location is not None

    async def state_store(self) -> StateStore:
        if self.location is None:
            return MemoryStateStore()
        resource = asynccontextmanager(state_store_resource)(self.location)
        return await self._stores.enter_async_context(resource)

    async def token_store(self, cipher: TokenCipher | None) -> TokenStore:
        if self.location is None:
            return MemoryTokenStore()
        resource = asynccontextmanager(token_store_resource)(self.location, cipher)
        return await self._stores.enter_async_context(resource)

    async def close_stores(self) -> None:
        """Closes every store opened so far, as a process exit would."""
        await self._stores.aclose()

    async def raw_rows(self, table: str) -> list[tuple[Any, ...]]:
        """Every row of a table, read around the adapters."""
        query = f"SELECT * FROM {table}"  # noqa: S608 - table names come from the tests
        if isinstance(self.location, SqliteLocation):
            assert self.location.path is not None
            async with aiosqlite.connect(self.location.path) as connection:
                return [tuple(row) for row in await connection.execute_fetchall(query)]
        assert isinstance(self.location, PostgresLocation)
        qualified = sql.SQL("SELECT * FROM {}.{}").format(
            sql.Identifier(self.location.schema), sql.Identifier(table)
        )
        return [tuple(row) for row in await pg_execute(qualified)]


@asynccontextmanager
async def open_backend(kind: str, tmp_path: Path) -> AsyncIterator[Backend]:
    async with AsyncExitStack() as stack:
        location: StateLocation | None = None
        if kind == "sqlite":
            location = SqliteLocation(tmp_path / "state" / "state.db")
        elif kind == "postgresql":
            location = await stack.enter_async_context(throwaway_schema())
        backend = Backend(kind, location)
        stack.push_async_callback(backend.close_stores)
        yield backend


Database = SqliteDatabase | PostgresDatabase


async def open_database(
    location: StateLocation, count: int | None = None, *, read_only: bool = False
) -> Database:
    """The durable database at `location`, migrated by its first `count` migrations (all:
    None), as a release with that many left it."""
    access: Literal["create", "read_only"] = "read_only" if read_only else "create"
    if isinstance(location, SqliteLocation):
        return await SqliteDatabase.open(location.path, SQLITE_MIGRATIONS[:count], access=access)
    assert isinstance(location, PostgresLocation)
    return await PostgresDatabase.open(location, POSTGRES_MIGRATIONS[:count], access=access)


def migrations_before(location: StateLocation, description: str) -> int:
    """How many migrations came before the one whose description holds `description`: what
    the release before it had (later releases add theirs after it)."""
    released = SQLITE_MIGRATIONS if isinstance(location, SqliteLocation) else POSTGRES_MIGRATIONS
    [index] = [i for i, m in enumerate(released) if description in m.description]
    return index


async def open_previous_release(location: StateLocation, description: str) -> Database:
    """The database as the release before the migration `description` left it."""
    return await open_database(location, migrations_before(location, description))


def state_store_on(database: Database) -> SqliteStateStore | PostgresStateStore:
    if isinstance(database, SqliteDatabase):
        return SqliteStateStore(database)
    return PostgresStateStore(database)
