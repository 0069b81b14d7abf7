"""One psycopg connection shared by the operations of a store, serialised by a lock.

The service runs one batch at a time, so a pool would buy nothing. A connection that
breaks (server restart, network) fails the operation in flight with StateStoreError and
is replaced on the next call. The store's tables live in their own schema (default
`openoms_allegro`), selected through `search_path`.

Tools that only look open the database with `access="read_only"`: no DDL, no migration (the
schema must be the one this release writes), and every transaction of the session is READ
ONLY, so nothing can be written by mistake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow

from adapters.persistence.migrations import (
    POSTGRES_MIGRATIONS,
    SCHEMA_VERSION_TABLE,
    Migration,
    pending_migrations,
)
from adapters.persistence.missing import StateMissing
from adapters.persistence.url import PostgresLocation, redact_url
from application.ports.errors import StateStoreError

CONNECT_TIMEOUT_SECONDS = 10
APPLICATION_NAME = "openoms-allegro"  # shown in pg_stat_activity

Connection = psycopg.AsyncConnection[TupleRow]
# As for SQLite (sqlite_database.Access): "create" migrates, "read_only" never writes.
Access = Literal["create", "read_only"]


class PostgresDatabase:
    def __init__(
        self, location: PostgresLocation, connection: Connection, *, read_only: bool = False
    ) -> None:
        self.location = location
        self._connection = connection
        self._read_only = read_only  # kept by the connections that replace a broken one
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(
        cls,
        location: PostgresLocation,
        migrations: Sequence[Migration] = POSTGRES_MIGRATIONS,
        *,
        access: Access = "create",
    ) -> PostgresDatabase:
        read_only = access == "read_only"
        database = cls(location, await connect(location, read_only=read_only), read_only=read_only)
        try:
            if access == "create":
                await database.migrate(migrations)
            else:
                await database._require_current_schema(migrations)
        except BaseException:
            await database.aclose()
            raise
        return database

    async def aclose(self) -> None:
        self._closed = True
        with suppress(psycopg.Error):
            await self._connection.close()

    @asynccontextmanager
    async def transaction(self, operation: str) -> AsyncIterator[Connection]:
        """Committed when the block ends, rolled back if it raises (cancellation included)."""
        async with self._lock, self._wrapping_errors(operation):
            connection = await self._usable_connection()
            async with connection.transaction():
                yield connection

    async def fetch_all(
        self, operation: str, query: str, parameters: Iterable[Any] = ()
    ) -> list[TupleRow]:
        async with self._lock, self._wrapping_errors(operation):
            connection = await self._usable_connection()
            cursor = await connection.execute(query, tuple(parameters))
            return await cursor.fetchall()

    async def migrate(self, migrations: Sequence[Migration]) -> int:
        """Applies the pending migrations in one transaction; returns the version reached."""
        schema = sql.Identifier(self.location.schema)
        async with self.transaction("migrating the schema") as connection:
            # Replicas starting together take turns; the lock ends with the transaction.
            await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"openoms_allegro.migrate.{self.location.schema}",),
            )
            await connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            await connection.execute(SCHEMA_VERSION_TABLE)
            cursor = await connection.execute("SELECT max(version) FROM schema_version")
            row = await cursor.fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            pending = pending_migrations(migrations, current)
            for migration in pending:
                for statement in migration.statements:
                    await connection.execute(statement)
            if not pending:
                return current
            await connection.execute("DELETE FROM schema_version")
            await connection.execute(
                "INSERT INTO schema_version (version) VALUES (%s)", (pending[-1].version,)
            )
            return pending[-1].version

    async def _require_current_schema(self, migrations: Sequence[Migration]) -> None:
        """Without migrating: the schema must exist, at the version this release writes."""
        where = f"PostgreSQL schema {self.location.schema} at {redact_url(self.location.dsn)}"
        try:
            rows = await self.fetch_all(
                "reading the schema version", "SELECT max(version) FROM schema_version"
            )
        except StateStoreError as exc:
            if isinstance(exc.__cause__, psycopg.errors.UndefinedTable):
                raise StateMissing(
                    f"no state in {where} (STATE_URL): nothing has run with this state "
                    "store yet; run `openoms-allegro auth login` first, or fix STATE_URL"
                ) from exc
            raise
        current = int(rows[0][0]) if rows and rows[0][0] is not None else 0
        if pending_migrations(migrations, current):
            raise StateStoreError(
                f"the state in {where} is at schema version {current}, older than this "
                f"release writes ({len(migrations)}): run `openoms-allegro run --once` (or "
                "the service) once to migrate it; read-only commands never migrate"
            )

    async def _usable_connection(self) -> Connection:
        connection = self._connection
        if connection.closed or connection.broken:
            self._connection = connection = await connect(self.location, read_only=self._read_only)
        elif connection.info.transaction_status != TransactionStatus.IDLE:
            await connection.rollback()  # left over by an interrupted operation
        return connection

    @asynccontextmanager
    async def _wrapping_errors(self, operation: str) -> AsyncIterator[None]:
        if self._closed:  # and stays closed: no reconnecting after shutdown
            raise StateStoreError(
                f"PostgreSQL schema {self.location.schema}: {operation} failed: the store is closed"
            )
        try:
            yield
        except psycopg.Error as exc:
            raise StateStoreError(
                f"PostgreSQL schema {self.location.schema}: {operation} failed: {exc}"
            ) from exc


async def connect(
    location: PostgresLocation, application_name: str = APPLICATION_NAME, *, read_only: bool = False
) -> Connection:
    """A configured autocommit connection (schema, UTC; with `read_only`, every transaction
    is READ ONLY). `PostgresDatabase` makes its own with it; so does the lease's lock
    session, which keeps session state on its own."""
    try:
        connection = await psycopg.AsyncConnection.connect(
            location.dsn,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=application_name,
        )
    except psycopg.Error as exc:
        raise StateStoreError(
            f"cannot connect to PostgreSQL at {redact_url(location.dsn)}: {exc}"
        ) from exc
    try:
        await connection.execute(
            sql.SQL("SET search_path TO {}").format(sql.Identifier(location.schema))
        )
        await connection.execute("SET TIME ZONE 'UTC'")
        if read_only:
            await connection.execute("SET default_transaction_read_only = on")
    except psycopg.Error as exc:
        await connection.close()
        raise StateStoreError(f"cannot configure the PostgreSQL connection: {exc}") from exc
    return connection
