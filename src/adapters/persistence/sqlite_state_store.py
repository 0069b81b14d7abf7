"""The state store on a SQLite file: for a single replica (the default `STATE_URL`)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import aiosqlite

from adapters.persistence.lifecycle import OwnsDatabase
from adapters.persistence.rows import (
    MAX_ERROR_LENGTH,
    check_limit,
    record_from_row,
    record_to_row,
    require_aware,
    utc_from_text,
)
from adapters.persistence.sqlite_database import SqliteDatabase
from adapters.persistence.staged_batch import decode_staged, encode_staged, is_sweep_page
from adapters.persistence.url import SqliteLocation, sqlite_path
from application.ports.state import (
    Cursor,
    ErrorReport,
    FailingOrder,
    PollError,
    StagedBatch,
    StateStore,
)
from domain.policy import OrderRecord

# The ids travel as one JSON array: no limit on how many, no SQL built from strings.
_SELECT_RECORDS = """
    SELECT checkout_form_id, revision, order_status, payment_status, fulfillment_status
    FROM order_records
    WHERE account = ? AND checkout_form_id IN (SELECT value FROM json_each(?))
"""

_UPSERT_CURSOR = """
    INSERT INTO cursors (account, position) VALUES (?, ?)
    ON CONFLICT (account) DO UPDATE
    SET position = excluded.position, updated_at = CURRENT_TIMESTAMP
"""
_UPSERT_RECORD = """
    INSERT INTO order_records
        (account, checkout_form_id, revision, order_status, payment_status, fulfillment_status)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (account, checkout_form_id) DO UPDATE
    SET revision = excluded.revision,
        order_status = excluded.order_status,
        payment_status = excluded.payment_status,
        fulfillment_status = excluded.fulfillment_status,
        updated_at = CURRENT_TIMESTAMP
"""
_COUNT_FAILURE = """
    INSERT INTO failures (account, checkout_form_id, attempts, last_error) VALUES (?, ?, 1, ?)
    ON CONFLICT (account, checkout_form_id) DO UPDATE
    SET attempts = failures.attempts + 1,
        last_error = excluded.last_error,
        updated_at = CURRENT_TIMESTAMP
    RETURNING attempts
"""
_UPSERT_POLL_ERROR = """
    INSERT INTO poll_errors (account, message, occurred_at) VALUES (?, ?, ?)
    ON CONFLICT (account) DO UPDATE
    SET message = excluded.message, occurred_at = excluded.occurred_at
"""
_UPSERT_STAGED = """
    INSERT INTO staged_batches (account, payload) VALUES (?, ?)
    ON CONFLICT (account) DO UPDATE
    SET payload = excluded.payload, staged_at = CURRENT_TIMESTAMP
"""
_SELECT_FAILING = """
    SELECT checkout_form_id, attempts, last_error, updated_at FROM failures
    WHERE account = ? ORDER BY updated_at DESC, checkout_form_id LIMIT ?
"""


class SqliteStateStore(OwnsDatabase[SqliteDatabase], StateStore):
    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    @classmethod
    async def open(cls, path: Path | None) -> SqliteStateStore:
        """`path` None: in memory. Creates the directory and migrates the schema."""
        return cls(await SqliteDatabase.open(path))

    async def load_cursor(self, account: str) -> Cursor | None:
        rows = await self._database.fetch_all(
            "loading the cursor", "SELECT position FROM cursors WHERE account = ?", (account,)
        )
        return Cursor(rows[0][0]) if rows else None

    async def load_records(
        self, account: str, checkout_form_ids: Collection[str]
    ) -> Mapping[str, OrderRecord]:
        rows = await self._database.fetch_all(
            "loading order records",
            _SELECT_RECORDS,
            (account, json.dumps(list(checkout_form_ids))),
        )
        records = (record_from_row(row) for row in rows)
        return {record.checkout_form_id: record for record in records}

    async def commit(
        self,
        account: str,
        cursor: Cursor | None,
        records: Sequence[OrderRecord] = (),
        cleared_failures: Collection[str] = (),
    ) -> None:
        async with self._database.transaction("committing the cursor") as connection:
            if cursor is not None:
                await connection.execute(_UPSERT_CURSOR, (account, cursor.position))
            await connection.executemany(
                _UPSERT_RECORD, [(account, *record_to_row(record)) for record in records]
            )
            await connection.executemany(
                "DELETE FROM failures WHERE account = ? AND checkout_form_id = ?",
                [(account, checkout_form_id) for checkout_form_id in cleared_failures],
            )
            if cursor is not None or await _sweep_page_staged(connection, account):
                await connection.execute("DELETE FROM staged_batches WHERE account = ?", (account,))

    async def stage(self, account: str, batch: StagedBatch) -> None:
        payload = encode_staged(batch)
        async with self._database.transaction("staging a batch") as connection:
            await connection.execute(_UPSERT_STAGED, (account, payload))

    async def load_staged(self, account: str) -> StagedBatch | None:
        rows = await self._database.fetch_all(
            "loading the staged batch",
            "SELECT payload FROM staged_batches WHERE account = ?",
            (account,),
        )
        return decode_staged(rows[0][0]) if rows else None

    async def record_failure(self, account: str, checkout_form_id: str, error: str) -> int:
        async with self._database.transaction("counting a failure") as connection:
            rows = await connection.execute_fetchall(
                _COUNT_FAILURE, (account, checkout_form_id, error[:MAX_ERROR_LENGTH])
            )
            (attempts,) = next(iter(rows))
        return int(attempts)

    async def record_poll_error(self, account: str, message: str, occurred_at: datetime) -> None:
        moment = require_aware(occurred_at, "occurred_at").isoformat()
        async with self._database.transaction("recording the poll error") as connection:
            await connection.execute(
                _UPSERT_POLL_ERROR, (account, message[:MAX_ERROR_LENGTH], moment)
            )

    async def load_errors(self, account: str, limit: int = 20) -> ErrorReport:
        last = await self._database.fetch_all(
            "loading the poll error",
            "SELECT message, occurred_at FROM poll_errors WHERE account = ?",
            (account,),
        )
        failing = await self._database.fetch_all(
            "loading failing orders", _SELECT_FAILING, (account, check_limit(limit))
        )
        return ErrorReport(
            PollError(last[0][0], utc_from_text(last[0][1])) if last else None,
            tuple(
                FailingOrder(form_id, int(attempts), error, utc_from_text(updated_at))
                for form_id, attempts, error, updated_at in failing
            ),
        )


async def _sweep_page_staged(connection: aiosqlite.Connection, account: str) -> bool:
    rows = await connection.execute_fetchall(
        "SELECT payload FROM staged_batches WHERE account = ?", (account,)
    )
    return any(is_sweep_page(payload) for (payload,) in rows)


async def sqlite_state_resource(
    location: SqliteLocation | Path | None,
) -> AsyncGenerator[SqliteStateStore, None]:
    """For `providers.Resource`: opens (and migrates) the store, closes it on shutdown."""
    async with await SqliteStateStore.open(sqlite_path(location)) as store:
        yield store
