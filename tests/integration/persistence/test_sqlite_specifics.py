"""What only the SQLite backend promises: its file, its pragmas, crash safety."""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
import stat
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from adapters.persistence import (
    SqliteDatabase,
    SqliteStateStore,
    SqliteTokenStore,
    TokenCipher,
)
from application.ports.errors import StateStoreError
from application.ports.state import Cursor, TokenPair
from tests.contract.test_state_store_contract import make_batch
from tests.contract.test_token_store_contract import make_pair

SRC = Path(__file__).resolve().parents[3] / "src"


def has_wal(path: Path) -> bool:
    return Path(f"{path}-wal").exists()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The common default (022): without it, a strict umask would hide a missing chmod."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def test_the_directory_of_the_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "openoms-allegro" / "state.db"

    async with await SqliteStateStore.open(path) as store:
        await store.commit("shop", Cursor("1"))

    assert path.is_file()


@pytest.mark.usefixtures("permissive_umask")
async def test_the_state_files_and_a_new_directory_are_private_to_their_owner(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "var" / "openoms-allegro"
    path = directory / "state.db"

    async with await SqliteStateStore.open(path) as store:
        await store.stage("shop", make_batch())
        modes = {suffix: mode_of(Path(f"{path}{suffix}")) for suffix in ("", "-wal", "-shm")}

    assert mode_of(directory) == 0o700
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}


@pytest.mark.usefixtures("permissive_umask")
async def test_state_files_an_older_version_left_readable_are_made_private(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE left_by_an_older_version (x)")
    connection.close()
    assert mode_of(path) == 0o644

    async with await SqliteStateStore.open(path) as store:
        await store.commit("shop", Cursor("1"))

    assert mode_of(path) == 0o600


@pytest.fixture
def sqlite_built_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian builds SQLite with SECURE_DELETE on by default, most others do not: every
    connection starts with it off here, as it would there."""
    connect = aiosqlite.connect

    async def insecure_connect(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
        connection = await connect(*args, **kwargs)
        await connection.execute("PRAGMA secure_delete = OFF")
        return connection

    monkeypatch.setattr(aiosqlite, "connect", insecure_connect)


@pytest.mark.usefixtures("sqlite_built_without_secure_delete")
async def test_a_committed_batch_leaves_no_buyer_data_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    buyer = b"jan.kowalski@example.com, ul. Prosta 1, Warszawa"
    staged_key = base64.b64encode(b"cf-1" + buyer)  # how the outbox stores a message key

    async with await SqliteStateStore.open(path) as store:
        await store.stage("shop", make_batch(Cursor("300"), tag=buyer))
        wal = await asyncio.to_thread(Path(f"{path}-wal").read_bytes)
        assert staged_key in wal  # the needle is the right one
        await store.commit("shop", Cursor("300"))  # the staged outbox is deleted with it
    # Closing the last connection checkpoints the WAL into the file and removes it.

    assert not has_wal(path)
    assert staged_key not in path.read_bytes()


async def test_the_connection_uses_wal_and_full_sync(tmp_path: Path) -> None:
    database = await SqliteDatabase.open(tmp_path / "state.db")
    try:
        journal = await database.fetch_all("reading", "PRAGMA journal_mode")
        synchronous = await database.fetch_all("reading", "PRAGMA synchronous")
    finally:
        await database.aclose()

    assert journal == [("wal",)]
    assert synchronous == [(2,)]  # FULL


async def test_a_path_that_cannot_be_a_database_is_a_state_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")

    with pytest.raises(StateStoreError, match="a-file"):
        await SqliteStateStore.open(tmp_path / "a-file" / "state.db")


async def test_a_file_that_is_not_a_database_is_a_state_store_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a SQLite database, just some bytes" * 100)

    with pytest.raises(StateStoreError, match=r"state\.db"):
        await SqliteStateStore.open(path)


async def test_in_memory_stores_work() -> None:
    async with await SqliteStateStore.open(None) as store:
        await store.commit("shop", Cursor(None))

        assert await store.load_cursor("shop") == Cursor(None)


async def test_state_and_token_stores_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    cipher = TokenCipher.from_key(TokenCipher.generate_key())
    async with (
        await SqliteStateStore.open(path) as state,
        await SqliteTokenStore.open(path, cipher) as tokens,
    ):
        await asyncio.gather(
            *(state.commit("shop", Cursor(str(n))) for n in range(20)),
            *(tokens.save("shop", make_pair(access_token=f"a{n}")) for n in range(20)),
        )

        assert await state.load_cursor("shop") == Cursor("19")
        loaded = await tokens.load("shop")
    assert isinstance(loaded, TokenPair)
    assert loaded.access_token == "a19"


@pytest.mark.slow
async def test_a_committed_cursor_survives_the_process_dying(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    script = textwrap.dedent(
        f"""
        import asyncio, os
        from pathlib import Path
        from adapters.persistence import SqliteStateStore
        from application.ports.state import Cursor

        async def main():
            store = await SqliteStateStore.open(Path({str(path)!r}))
            await store.commit("shop", Cursor("4711"))
            os._exit(0)  # no close, no checkpoint: as if killed

        asyncio.run(main())
        """
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, env={**os.environ, "PYTHONPATH": str(SRC)}
    )
    assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    assert has_wal(path)  # the commit lives only in the write-ahead log

    async with await SqliteStateStore.open(path) as store:
        assert await store.load_cursor("shop") == Cursor("4711")


async def test_stores_opening_a_new_file_together_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    cipher = TokenCipher.from_key(TokenCipher.generate_key())

    opened = await asyncio.gather(
        *(SqliteStateStore.open(path) for _ in range(4)),
        *(SqliteTokenStore.open(path, cipher) for _ in range(4)),
    )
    try:
        first, last = opened[0], opened[3]
        assert isinstance(first, SqliteStateStore)
        assert isinstance(last, SqliteStateStore)
        await first.commit("shop", Cursor("1"))
        assert await last.load_cursor("shop") == Cursor("1")
    finally:
        for store in opened:
            await store.aclose()
