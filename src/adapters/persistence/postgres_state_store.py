"""The state store on PostgreSQL: for several replicas, or when state must live off-host."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

from adapters.persistence.lifecycle import OwnsDatabase
from adapters.persistence.postgres_database import PostgresDatabase
from adapters.persistence.postgres_lease import LeaseFence, check_fence
from adapters.persistence.rows import (
    MAX_ERROR_LENGTH,
    check_limit,
    dead_letter_row,
    record_from_row,
    record_to_row,
    require_aware,
)
from adapters.persistence.staged_batch import (
    decided_again,
    decode_staged,
    encode_staged,
)
from adapters.persistence.url import PostgresLocation
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

_UPSERT_CURSOR = """
    INSERT INTO cursors (account, position) VALUES (%s, %s)
    ON CONFLICT (account) DO UPDATE
    SET position = excluded.position, updated_at = now()
"""
_UPSERT_RECORD = """
    INSERT INTO order_records
        (account, checkout_form_id, revision, order_status, payment_status, fulfillment_status,
         content)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (account, checkout_form_id) DO UPDATE
    SET revision = excluded.revision,
        order_status = excluded.order_status,
        payment_status = excluded.payment_status,
        fulfillment_status = excluded.fulfillment_status,
        content = excluded.content,
        updated_at = now()
"""
_COUNT_FAILURE = """
    INSERT INTO failures (account, checkout_form_id, attempts, last_error) VALUES (%s, %s, 1, %s)
    ON CONFLICT (account, checkout_form_id) DO UPDATE
    SET attempts = failures.attempts + 1,
        last_error = excluded.last_error,
        updated_at = now()
    RETURNING attempts
"""
_UPSERT_POLL_ERROR = """
    INSERT INTO poll_errors (account, message, occurred_at) VALUES (%s, %s, %s)
    ON CONFLICT (account) DO UPDATE
    SET message = excluded.message, occurred_at = excluded.occurred_at
"""
_UPSERT_STAGED = """
    INSERT INTO staged_batches (account, payload) VALUES (%s, %s)
    ON CONFLICT (account) DO UPDATE
    SET payload = excluded.payload, staged_at = now()
"""
_UPSERT_DEAD_LETTER = """
    INSERT INTO dead_letters
        (account, checkout_form_id, allegro_event_id, error, attempts, failed_at)
    VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (account, checkout_form_id) DO UPDATE
    SET allegro_event_id = excluded.allegro_event_id,
        error = excluded.error,
        attempts = excluded.attempts,
        failed_at = excluded.failed_at
"""
_SELECT_DEAD_LETTERS = """
    SELECT checkout_form_id, allegro_event_id, error, attempts, failed_at FROM dead_letters
    WHERE account = %s ORDER BY failed_at DESC, checkout_form_id LIMIT %s
"""
_CLEAR_FAILURE = (
    "DELETE FROM failures WHERE account = %s AND checkout_form_id = %s",
    "DELETE FROM dead_letters WHERE account = %s AND checkout_form_id = %s",
)
_SELECT_FAILING = """
    SELECT checkout_form_id, attempts, last_error, updated_at FROM failures
    WHERE account = %s ORDER BY updated_at DESC, checkout_form_id LIMIT %s
"""


class PostgresStateStore(OwnsDatabase[PostgresDatabase], StateStore):
    """With a `fence`, a commit or a stage succeeds only while the fence's lease is current."""

    def __init__(self, database: PostgresDatabase, fence: LeaseFence | None = None) -> None:
        self._database = database
        self._fence = fence

    @classmethod
    async def open(
        cls, location: PostgresLocation, fence: LeaseFence | None = None
    ) -> PostgresStateStore:
        """Connects, creates the schema if needed and migrates it."""
        return cls(await PostgresDatabase.open(location), fence)

    async def load_cursor(self, account: str) -> Cursor | None:
        rows = await self._database.fetch_all(
            "loading the cursor", "SELECT position FROM cursors WHERE account = %s", (account,)
        )
        return Cursor(rows[0][0]) if rows else None

    async def load_records(
        self, account: str, checkout_form_ids: Collection[str]
    ) -> Mapping[str, OrderRecord]:
        ids = list(dict.fromkeys(checkout_form_ids))
        if not ids:
            return {}
        rows = await self._database.fetch_all(
            "loading order records",
            "SELECT checkout_form_id, revision, order_status, payment_status, fulfillment_status, "
            "content FROM order_records WHERE account = %s AND checkout_form_id = ANY(%s)",
            (account, ids),
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
            if self._fence is not None:
                await check_fence(connection, account, self._fence)
            if cursor is not None:
                await connection.execute(_UPSERT_CURSOR, (account, cursor.position))
            rows = [(account, *record_to_row(record)) for record in records]
            if rows:
                async with connection.cursor() as db_cursor:
                    await db_cursor.executemany(_UPSERT_RECORD, rows)
            if cleared_failures:
                await connection.execute(
                    "DELETE FROM failures WHERE account = %s AND checkout_form_id = ANY(%s)",
                    (account, list(cleared_failures)),
                )
            # The batch this commit ends (see `StateStore.commit`), decided without reading
            # the payload back: with a cursor, any; without one, only one staged without.
            await connection.execute(
                "DELETE FROM staged_batches WHERE account = %s "
                "AND (%s OR payload::jsonb ->> 'cursor' IS NULL)",
                (account, cursor is not None),
            )
            decided = decided_again(cleared_failures, quarantined)
            if decided:
                await connection.execute(
                    "DELETE FROM dead_letters WHERE account = %s AND checkout_form_id = ANY(%s)",
                    (account, decided),
                )
            if quarantined:
                async with connection.cursor() as db_cursor:
                    await db_cursor.executemany(
                        _UPSERT_DEAD_LETTER,
                        [(account, *dead_letter_row(entry)) for entry in quarantined],
                    )

    async def stage(self, account: str, batch: StagedBatch) -> None:
        payload = encode_staged(batch)
        async with self._database.transaction("staging a batch") as connection:
            if self._fence is not None:
                await check_fence(connection, account, self._fence)
            await connection.execute(_UPSERT_STAGED, (account, payload))

    async def load_staged(self, account: str) -> StagedBatch | None:
        rows = await self._database.fetch_all(
            "loading the staged batch",
            "SELECT payload FROM staged_batches WHERE account = %s",
            (account,),
        )
        return decode_staged(rows[0][0]) if rows else None

    async def record_failure(self, account: str, checkout_form_id: str, error: str) -> int:
        async with self._database.transaction("counting a failure") as connection:
            db_cursor = await connection.execute(
                _COUNT_FAILURE, (account, checkout_form_id, error[:MAX_ERROR_LENGTH])
            )
            row = await db_cursor.fetchone()
        assert row is not None  # RETURNING always yields the row it wrote
        return int(row[0])

    async def record_poll_error(self, account: str, message: str, occurred_at: datetime) -> None:
        """Not fenced: a replica that just lost the lease may still say why it stopped."""
        moment = require_aware(occurred_at, "occurred_at")
        async with self._database.transaction("recording the poll error") as connection:
            await connection.execute(
                _UPSERT_POLL_ERROR, (account, message[:MAX_ERROR_LENGTH], moment)
            )

    async def load_errors(self, account: str, limit: int = 20) -> ErrorReport:
        last = await self._database.fetch_all(
            "loading the poll error",
            "SELECT message, occurred_at FROM poll_errors WHERE account = %s",
            (account,),
        )
        failing = await self._database.fetch_all(
            "loading failing orders", _SELECT_FAILING, (account, check_limit(limit))
        )
        return ErrorReport(
            PollError(last[0][0], last[0][1].astimezone(UTC)) if last else None,
            tuple(
                FailingOrder(form_id, int(attempts), error, updated_at.astimezone(UTC))
                for form_id, attempts, error, updated_at in failing
            ),
        )

    async def load_quarantined(self, account: str, limit: int = 100) -> tuple[Quarantined, ...]:
        rows = await self._database.fetch_all(
            "loading dead letters", _SELECT_DEAD_LETTERS, (account, check_limit(limit))
        )
        return tuple(
            Quarantined(form_id, event_id, error, int(attempts), failed_at.astimezone(UTC))
            for form_id, event_id, error, attempts, failed_at in rows
        )

    async def clear_failure(self, account: str, checkout_form_id: str) -> bool:
        """Fenced like a commit: only the account's writer changes what the pipeline counts."""
        async with self._database.transaction("clearing a failure count") as connection:
            if self._fence is not None:
                await check_fence(connection, account, self._fence)
            removed = 0
            for statement in _CLEAR_FAILURE:
                done = await connection.execute(statement, (account, checkout_form_id))
                removed += done.rowcount
        return removed > 0
