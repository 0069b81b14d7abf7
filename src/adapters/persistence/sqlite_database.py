"""One SQLite connection shared by the operations of a store, serialised by a lock.

WAL mode lets readers (e.g. `openoms-allegro status`) run beside the service, and
`synchronous=FULL` makes every committed transaction survive a power cut: a committed
cursor or rotated refresh token is never lost.

The file holds tokens and, until a batch is committed, buyer data (the staged outbox), so it
is private to its owner: a directory this module creates is 0700, the database file is 0600
(SQLite gives its `-wal` and `-shm` files the database file's mode), and `secure_delete`
overwrites deleted rows instead of leaving them in free pages.

Tools that only look (`status`, `check`, `cursor show`, `dead-letters list`) open an
existing file with `access="read_only"` (SQLite's `mode=ro`: no write can happen on that
connection): it never creates the file or its directory nor migrates the schema, and a
missing file is one StateStoreError naming `STATE_URL`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from adapters.persistence.migrations import (
    SCHEMA_VERSION_TABLE,
    SQLITE_MIGRATIONS,
    Migration,
    pending_migrations,
)
from adapters.persistence.missing import StateMissing
from application.ports.errors import StateStoreError

_BUSY_TIMEOUT_MS = 10_000  # the state and token stores each hold a connection to the file
_WAL_RETRY_SECONDS = 0.01
_OWNER_ONLY = 0o700  # a mask, and the mode of a directory we create
_PRIVATE_FILE = 0o600
_COMPANIONS = ("", "-wal", "-shm", "-journal")  # the database file and SQLite's side files

Row = tuple[Any, ...]
# "create": the file, its directory and the schema are created or migrated as needed (what
# the service does). "read_only": the file must exist at the schema this release writes, and
# the connection cannot write.
Access = Literal["create", "read_only"]


class SqliteDatabase:
    def __init__(self, connection: aiosqlite.Connection, name: str) -> None:
        self._connection = connection
        self._name = name
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path | None,
        migrations: Sequence[Migration] = SQLITE_MIGRATIONS,
        *,
        access: Access = "create",
    ) -> SqliteDatabase:
        """`path` None: an in-memory database (created and migrated whatever `access` says:
        nothing of it outlives the process). With `access="create"`, creates the file's
        directory if needed; otherwise never creates nor migrates anything."""
        if path is None or access == "create":
            return await cls._open_creating(path, migrations)
        name = str(path)
        uri = await asyncio.to_thread(_existing_file_uri, path)
        try:
            connection = await aiosqlite.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise StateStoreError(f"cannot open SQLite database {name}: {exc}") from exc
        database = cls(connection, name)
        try:
            async with database._wrapping_errors("configuring the connection"):
                await connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            await database._require_current_schema(path, migrations)
        except BaseException:
            await database.aclose()
            raise
        return database

    @classmethod
    async def _open_creating(
        cls, path: Path | None, migrations: Sequence[Migration]
    ) -> SqliteDatabase:
        name = ":memory:" if path is None else str(path)
        if path is not None:
            await asyncio.to_thread(_prepare_private_file, path)
        try:
            connection = await aiosqlite.connect(name, isolation_level=None)
        except sqlite3.Error as exc:
            raise StateStoreError(f"cannot open SQLite database {name}: {exc}") from exc
        database = cls(connection, name)
        try:
            await database._configure(in_memory=path is None)
            await database.migrate(migrations)
        except BaseException:
            await database.aclose()
            raise
        return database

    async def _require_current_schema(self, path: Path, migrations: Sequence[Migration]) -> None:
        """Without migrating: the schema must be the one this release writes."""
        try:
            rows = await self._connection.execute_fetchall(
                "SELECT max(version) FROM schema_version"
            )
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # an empty file, or not one of ours
                raise StateMissing(_no_state(path)) from exc
            raise StateStoreError(f"SQLite {self._name}: reading the schema failed: {exc}") from exc
        except sqlite3.Error as exc:  # e.g. a file that is not a database
            raise StateStoreError(f"SQLite {self._name}: reading the schema failed: {exc}") from exc
        current = int(next(iter(rows))[0] or 0)
        if pending_migrations(migrations, current):
            raise StateStoreError(
                f"the state database {path} is at schema version {current}, older than this "
                f"release writes ({len(migrations)}): run `openoms-allegro run --once` (or "
                "the service) once to migrate it; read-only commands never migrate"
            )

    async def aclose(self) -> None:
        self._closed = True
        with suppress(sqlite3.Error):
            await self._connection.close()

    @asynccontextmanager
    async def transaction(self, operation: str) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        async with self._lock, self._wrapping_errors(operation):
            connection = self._connection
            # IMMEDIATE takes the write lock up front, so a concurrent writer waits at BEGIN
            # (busy_timeout) instead of failing halfway through.
            await connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                await connection.execute("COMMIT")
            except BaseException:
                # Queued on aiosqlite's thread before any await: it runs even if cancelled.
                with suppress(sqlite3.Error):
                    await connection.execute("ROLLBACK")
                raise

    async def fetch_all(
        self, operation: str, sql: str, parameters: Iterable[Any] = ()
    ) -> list[Row]:
        async with self._lock, self._wrapping_errors(operation):
            rows = await self._connection.execute_fetchall(sql, tuple(parameters))
        return [tuple(row) for row in rows]

    async def migrate(self, migrations: Sequence[Migration]) -> int:
        """Applies the pending migrations in one transaction; returns the version reached."""
        async with self.transaction("migrating the schema") as connection:
            await connection.execute(SCHEMA_VERSION_TABLE)
            rows = await connection.execute_fetchall("SELECT max(version) FROM schema_version")
            current = next(iter(rows))[0] or 0
            pending = pending_migrations(migrations, current)
            for migration in pending:
                for statement in migration.statements:
                    await connection.execute(statement)
            if pending:
                await connection.execute("DELETE FROM schema_version")
                await connection.execute(
                    "INSERT INTO schema_version (version) VALUES (?)", (pending[-1].version,)
                )
                return pending[-1].version
            return int(current)

    async def _configure(self, *, in_memory: bool) -> None:
        async with self._wrapping_errors("configuring the connection"):
            await self._connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            mode = await self._enable_wal()
            if not in_memory and mode != "wal":
                raise StateStoreError(f"{self._name}: SQLite refused WAL mode (got {mode!r})")
            await self._connection.execute("PRAGMA synchronous = FULL")
            await self._connection.execute("PRAGMA secure_delete = ON")

    async def _enable_wal(self) -> str:
        """Switching a new file to WAL needs it to itself, and SQLite does not wait for
        that (no busy handler), so connections opening a new file together take turns."""
        deadline = asyncio.get_running_loop().time() + _BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                rows = await self._connection.execute_fetchall("PRAGMA journal_mode = WAL")
                return str(next(iter(rows))[0])
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                if asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(_WAL_RETRY_SECONDS)

    @asynccontextmanager
    async def _wrapping_errors(self, operation: str) -> AsyncIterator[None]:
        if self._closed:
            raise StateStoreError(f"SQLite {self._name}: {operation} failed: the store is closed")
        try:
            yield
        except sqlite3.Error as exc:
            raise StateStoreError(f"SQLite {self._name}: {operation} failed: {exc}") from exc


def _existing_file_uri(path: Path) -> str:
    """SQLite's URI for an existing file, read-only: `mode=ro` never creates it."""
    if not path.is_file():
        raise StateMissing(_no_state(path))
    return f"{path.absolute().as_uri()}?mode=ro"


def _no_state(path: Path) -> str:
    return (
        f"no state at {path} (STATE_URL): nothing has run with this state file yet; "
        "run `openoms-allegro auth login` first, or point STATE_URL at the service's file"
    )


def make_private_directory_of(path: Path) -> None:
    """Creates the directory of the state file `path` (or of a file beside it) if needed: 0700,
    as it will hold the tokens and the staged buyer data."""
    try:
        path.parent.mkdir(mode=_OWNER_ONLY, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateStoreError(f"cannot create the directory of {path}: {exc}") from exc


def _prepare_private_file(path: Path) -> None:
    """Creates the directory (0700) and the database file (0600) before SQLite opens it, and
    takes group and world access away from files an older version created readable."""
    make_private_directory_of(path)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, _PRIVATE_FILE))
    except OSError as exc:
        raise StateStoreError(f"cannot open SQLite database {path}: {exc}") from exc
    for suffix in _COMPANIONS:
        _restrict(Path(f"{path}{suffix}"))


def _restrict(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & _OWNER_ONLY)
    except (FileNotFoundError, PermissionError):
        return  # no such side file; or another user's file that we may use: not ours to change
