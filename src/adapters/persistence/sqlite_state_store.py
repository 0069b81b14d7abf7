"""The state store on a SQLite file: for a single replica (the default `STATE_URL`)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from adapters.persistence.lifecycle import OwnsDatabase
from adapters.persistence.rows import (
    MAX_ERROR_LENGTH,
    check_limit,
    dead_letter_row,
    record_from_row,
    record_to_row,
    require_aware,
    utc_from_text,
)
from adapters.persistence.sqlite_database import SqliteDatabase
from adapters.persistence.staged_batch import (
    decided_again,
    decode_staged,
    encode_staged,
)
from application.ports.state import (
    Cursor,
    ErrorReport,
    FailingOrder,
    PollError,
    Quarantined,
    StagedBatch,
    StateStore,
)
from domain.policy import OrderRecord

# The ids travel as one JSON array: no limit on how many, no SQL built from strings.
_SELECT_RECORDS = """
    SELECT checkout_form_id, revision, order_status, payment_status, fulfillment_status, content
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
        (account, checkout_form_id, revision, order_status, payment_status, fulfillment_status,
         content)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (account, checkout_form_id) DO UPDATE
    SET revision = excluded.revision,
        order_status = excluded.order_status,
        payment_status = excluded.payment_status,
        fulfillment_status = excluded.fulfillment_status,
        content = excluded.content,
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
_UPSERT_DEAD_LETTER = """
    INSERT INTO dead_letters
        (account, checkout_form_id, allegro_event_id, error, attempts, failed_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (account, checkout_form_id) DO UPDATE
    SET allegro_event_id = excluded.allegro_event_id,
        error = excluded.error,
        attempts = excluded.attempts,
        failed_at = excluded.failed_at
"""
_SELECT_DEAD_LETTERS = """
    SELECT checkout_form_id, allegro_event_id, error, attempts, failed_at FROM dead_letters
    WHERE account = ? ORDER BY failed_at DESC, checkout_form_id LIMIT ?
"""
_CLEAR_FAILURE = (
    "DELETE FROM failures WHERE account = ? AND checkout_form_id = ?",
    "DELETE FROM dead_letters WHERE account = ? AND checkout_form_id = ?",
)
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
        quarantined: Sequence[Quarantined] = (),
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
            # The batch this commit ends (see `StateStore.commit`), decided without reading
            # the payload back: with a cursor, any; without one, only one staged without.
            await connection.execute(
                "DELETE FROM staged_batches WHERE account = ? "
                "AND (? OR json_extract(payload, '$.cursor') IS NULL)",
                (account, cursor is not None),
            )
            await connection.executemany(
                "DELETE FROM dead_letters WHERE account = ? AND checkout_form_id = ?",
                [(account, form_id) for form_id in decided_again(cleared_failures, quarantined)],
            )
            await connection.executemany(
                _UPSERT_DEAD_LETTER, [(account, *dead_letter_row(q)) for q in quarantined]
            )

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

    async def load_quarantined(self, account: str, limit: int = 100) -> tuple[Quarantined, ...]:
        rows = await self._database.fetch_all(
            "loading dead letters", _SELECT_DEAD_LETTERS, (account, check_limit(limit))
        )
        return tuple(
            Quarantined(form_id, event_id, error, int(attempts), utc_from_text(failed_at))
            for form_id, event_id, error, attempts, failed_at in rows
        )

    async def clear_failure(self, account: str, checkout_form_id: str) -> bool:
        async with self._database.transaction("clearing a failure count") as connection:
            removed = 0
            for statement in _CLEAR_FAILURE:
                done = await connection.execute(statement, (account, checkout_form_id))
                removed += done.rowcount
        return removed > 0
