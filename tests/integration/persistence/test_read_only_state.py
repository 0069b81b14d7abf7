"""`Wired(settings, read_only=True)`: the tools that only look (`status`, `check`,
`cursor show`, `dead-letters list`) never create or migrate a state store (issue 12, item 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from psycopg import sql

from adapters.persistence import (
    SQLITE_MIGRATIONS,
    PostgresLocation,
    PostgresStateStore,
    SqliteDatabase,
    parse_state_url,
)
from application.ports.errors import StateStoreError
from application.ports.state import Cursor, StateStore, TokenPair, TokenStore
from entrypoints.settings import Settings, load_settings
from entrypoints.wiring import Wired
from tests.integration.persistence.backends import pg_execute, throwaway_schema

ACCOUNT = "shop"
KEY = "mXvsHTLs5lN0ZnU1S0ZbsTzuKEBXL4n-ZGO2v4R6BU0="  # a Fernet key for these tests only
PAIR = TokenPair("access", "refresh", datetime(2030, 1, 1, tzinfo=UTC))


def settings_for(state_url: str) -> Settings:
    return load_settings(
        allegro_client_id="app",
        allegro_client_secret="s3cr3t-value",
        allegro_account=ACCOUNT,
        state_url=state_url,
        token_encryption_key=KEY,
    )


async def state_of(wired: Wired) -> StateStore:
    return await wired.state_store()


async def tokens_of(wired: Wired) -> TokenStore:
    return await wired.token_store()


async def write_cursor(settings: Settings, position: str) -> None:
    """As the service does: the default container creates and migrates the state."""
    wired = Wired(settings)
    try:
        state = await state_of(wired)
        if isinstance(state, PostgresStateStore):  # commits need the lease: go around it
            location = parse_state_url(settings.state_url)
            assert isinstance(location, PostgresLocation)
            state = await PostgresStateStore.open(location)
            async with state:
                await state.commit(ACCOUNT, Cursor(position))
        else:
            await state.commit(ACCOUNT, Cursor(position))
    finally:
        await wired.shutdown()


async def try_to_write(state: StateStore) -> None:
    await state.record_poll_error(ACCOUNT, "boom", datetime.now(UTC))


async def test_a_missing_sqlite_file_is_one_line_and_nothing_is_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "state.db"
    wired = Wired(settings_for(f"sqlite:///{path}"), read_only=True)

    for store in (state_of, tokens_of):
        with pytest.raises(StateStoreError) as caught:
            await store(wired)
        message = str(caught.value)
        assert f"no state at {path} (STATE_URL)" in message
        assert "\n" not in message
    await wired.shutdown()

    assert not path.parent.exists()


@asynccontextmanager
async def state_url_of(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    async with throwaway_schema() as location:
        yield postgres_url(location)


# What each backend says when a write reaches a store opened read-only.
REFUSED = {"sqlite": "readonly database", "postgres": "read-only transaction"}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)]
)
async def test_read_only_stores_read_the_state_and_cannot_write_it(
    backend: str, tmp_path: Path
) -> None:
    """Neither the state store nor the token store of a read-only container can write: no
    tool that only looks refreshes or saves a token (entrypoints/check.py, status.py)."""
    async with state_url_of(backend, tmp_path) as url:
        settings = settings_for(url)
        await write_cursor(settings, "41")
        wired = Wired(settings, read_only=True)
        try:
            state = await state_of(wired)
            tokens = await tokens_of(wired)
            assert await state.load_cursor(ACCOUNT) == Cursor("41")
            assert await tokens.load(ACCOUNT) is None

            with pytest.raises(StateStoreError, match=REFUSED[backend]):
                await try_to_write(state)
            with pytest.raises(StateStoreError, match=REFUSED[backend]):
                await tokens.save(ACCOUNT, PAIR)
        finally:
            await wired.shutdown()

        await write_cursor(settings, "43")  # the read-only tool took no lock with it


async def test_read_only_sqlite_never_migrates_an_older_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old = await SqliteDatabase.open(path, SQLITE_MIGRATIONS[:1])
    await old.aclose()
    wired = Wired(settings_for(f"sqlite:///{path}"), read_only=True)

    with pytest.raises(StateStoreError, match="schema version 1, older than this release"):
        await state_of(wired)
    await wired.shutdown()

    check = await SqliteDatabase.open(path, access="read_only", migrations=SQLITE_MIGRATIONS[:1])
    try:
        assert await check.fetch_all("", "SELECT version FROM schema_version") == [(1,)]
    finally:
        await check.aclose()


async def test_an_empty_sqlite_file_is_no_state(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch()
    wired = Wired(settings_for(f"sqlite:///{path}"), read_only=True)

    with pytest.raises(StateStoreError, match="no state at"):
        await state_of(wired)
    await wired.shutdown()

    assert path.stat().st_size == 0


async def schema_exists(schema: str) -> bool:
    rows = await pg_execute(
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
    )
    return bool(rows)


def postgres_url(location: PostgresLocation) -> str:
    return f"{location.dsn}?schema={location.schema}"


@pytest.mark.integration
async def test_a_missing_postgres_schema_is_one_line_and_nothing_is_created() -> None:
    async with throwaway_schema() as location:
        wired = Wired(settings_for(postgres_url(location)), read_only=True)

        for store in (state_of, tokens_of):
            with pytest.raises(StateStoreError) as caught:
                await store(wired)
            message = str(caught.value)
            assert f"no state in PostgreSQL schema {location.schema}" in message
            assert "(STATE_URL)" in message
            assert "\n" not in message
        await wired.shutdown()

        assert not await schema_exists(location.schema)


@pytest.mark.integration
async def test_read_only_postgres_never_migrates_an_older_schema() -> None:
    async with throwaway_schema() as location:
        await write_cursor(settings_for(postgres_url(location)), "41")
        table = sql.SQL("{}.schema_version").format(sql.Identifier(location.schema))
        await pg_execute(sql.SQL("UPDATE {} SET version = 1").format(table))
        wired = Wired(settings_for(postgres_url(location)), read_only=True)

        with pytest.raises(StateStoreError, match="schema version 1, older than this release"):
            await state_of(wired)
        await wired.shutdown()

        assert await pg_execute(sql.SQL("SELECT version FROM {}").format(table)) == [(1,)]
