"""The offer store in the PostgreSQL state schema (docs/offers.md).

Its own class beside `PostgresStateStore`, as `PostgresTokenStore` is: one port per adapter,
on a `PostgresDatabase` that the caller may share with the other stores of the schema. With a
`fence`, every write succeeds only while the fence's lease is current, as the state store's
commits do: a replica that lost the account cannot stage or finish a round under the new
holder's feet.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

from adapters.persistence.lifecycle import OwnsDatabase
from adapters.persistence.offer_rows import (
    cursor_position,
    cursor_read_at,
    decode_round,
    decode_staged_offers,
    encode_round,
    encode_staged_offers,
    offer_record_from_row,
    offer_record_row,
)
from adapters.persistence.postgres_database import Connection, PostgresDatabase
from adapters.persistence.postgres_lease import LeaseFence, check_fence
from adapters.persistence.url import PostgresLocation
from application.ports.errors import StateStoreError
from application.ports.offers import OfferCursor, OfferRound, OfferStore, StagedOffers
from domain.offers import OfferRecord

_UPSERT_CURSOR = """
    INSERT INTO offer_cursors (account, position, read_at) VALUES (%s, %s, %s)
    ON CONFLICT (account) DO UPDATE
    SET position = excluded.position, read_at = excluded.read_at, updated_at = now()
"""
_UPSERT_RECORD = """
    INSERT INTO offer_records (account, offer_id, offer_values, ended_by, publication_status)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (account, offer_id) DO UPDATE
    SET offer_values = excluded.offer_values,
        ended_by = excluded.ended_by,
        publication_status = excluded.publication_status,
        updated_at = now()
"""
_UPSERT_STAGED = """
    INSERT INTO staged_offers (account, payload) VALUES (%s, %s)
    ON CONFLICT (account) DO UPDATE
    SET payload = excluded.payload, staged_at = now()
"""
_UPSERT_ROUND = """
    INSERT INTO offer_rounds (account, payload, done) VALUES (%s, %s, false)
    ON CONFLICT (account) DO UPDATE
    SET payload = excluded.payload, done = false, staged_at = now()
"""
# DO NOTHING, not DO UPDATE: an id listed twice must not touch its row twice.
_REMEMBER_ENDED = """
    INSERT INTO ended_offers (account, offer_id) SELECT %s, unnest(%s::text[])
    ON CONFLICT (account, offer_id) DO NOTHING
"""


class PostgresOfferStore(OwnsDatabase[PostgresDatabase], OfferStore):
    def __init__(self, database: PostgresDatabase, fence: LeaseFence | None = None) -> None:
        self._database = database
        self._fence = fence

    @classmethod
    async def open(
        cls, location: PostgresLocation, fence: LeaseFence | None = None
    ) -> PostgresOfferStore:
        """Connects, creates the schema if needed and migrates it."""
        return cls(await PostgresDatabase.open(location), fence)

    async def _check_fence(self, connection: Connection, account: str) -> None:
        if self._fence is not None:
            await check_fence(connection, account, self._fence)

    # --- offer events out -------------------------------------------------------------------

    async def load_offer_cursor(self, account: str) -> OfferCursor | None:
        rows = await self._database.fetch_all(
            "loading the offer cursor",
            "SELECT position, read_at FROM offer_cursors WHERE account = %s",
            (account,),
        )
        if not rows:
            return None
        position, read_at = rows[0]
        if not isinstance(read_at, datetime):  # a TIMESTAMPTZ column: always one
            raise StateStoreError(f"the offer cursor is unreadable: read_at {read_at!r}")
        return OfferCursor(position, read_at.astimezone(UTC))

    async def load_offer_records(
        self, account: str, offer_ids: Collection[str]
    ) -> Mapping[str, OfferRecord]:
        ids = list(dict.fromkeys(offer_ids))
        if not ids:
            return {}
        rows = await self._database.fetch_all(
            "loading offer records",
            "SELECT offer_id, offer_values, ended_by, publication_status FROM offer_records "
            "WHERE account = %s AND offer_id = ANY(%s)",
            (account, ids),
        )
        records = (offer_record_from_row(row) for row in rows)
        return {record.offer_id: record for record in records}

    async def stage_offers(self, account: str, batch: StagedOffers) -> None:
        payload = encode_staged_offers(batch)
        async with self._database.transaction("staging offers") as connection:
            await self._check_fence(connection, account)
            await connection.execute(_UPSERT_STAGED, (account, payload))

    async def load_staged_offers(self, account: str) -> StagedOffers | None:
        rows = await self._database.fetch_all(
            "loading the staged offers",
            "SELECT payload FROM staged_offers WHERE account = %s",
            (account,),
        )
        return decode_staged_offers(rows[0][0]) if rows else None

    async def commit_offers(
        self, account: str, cursor: OfferCursor | None, records: Sequence[OfferRecord]
    ) -> None:
        async with self._database.transaction("committing offers") as connection:
            await self._check_fence(connection, account)
            if cursor is not None:
                row = (account, cursor_position(cursor), cursor_read_at(cursor))
                await connection.execute(_UPSERT_CURSOR, row)
            rows = [(account, *offer_record_row(record)) for record in records]
            if rows:
                async with connection.cursor() as db_cursor:
                    await db_cursor.executemany(_UPSERT_RECORD, rows)
            await connection.execute("DELETE FROM staged_offers WHERE account = %s", (account,))

    # --- inventory in -----------------------------------------------------------------------

    async def stage_round(self, account: str, offer_round: OfferRound) -> None:
        payload = encode_round(offer_round)
        async with self._database.transaction("staging an offer round") as connection:
            await self._check_fence(connection, account)
            await connection.execute(_UPSERT_ROUND, (account, payload))

    async def load_round(self, account: str) -> tuple[OfferRound, bool] | None:
        rows = await self._database.fetch_all(
            "loading the offer round",
            "SELECT payload, done FROM offer_rounds WHERE account = %s",
            (account,),
        )
        if not rows:
            return None
        payload, done = rows[0]
        return decode_round(payload), bool(done)

    async def finish_round(
        self, account: str, ended: Collection[str], reactivated: Collection[str]
    ) -> None:
        async with self._database.transaction("finishing the offer round") as connection:
            await self._check_fence(connection, account)
            marked = await connection.execute(
                "UPDATE offer_rounds SET done = true WHERE account = %s", (account,)
            )
            if marked.rowcount == 0:
                raise ValueError(f"no offer round is staged for account {account!r}")
            # Forgotten first: an offer in both was ended last (as MemoryOfferStore does).
            await connection.execute(
                "DELETE FROM ended_offers WHERE account = %s AND offer_id = ANY(%s::text[])",
                (account, list(reactivated)),
            )
            await connection.execute(_REMEMBER_ENDED, (account, list(ended)))

    async def ended_by_service(self, account: str, offer_ids: Collection[str]) -> set[str]:
        ids = list(dict.fromkeys(offer_ids))
        if not ids:
            return set()
        rows = await self._database.fetch_all(
            "loading the offers the service ended",
            "SELECT offer_id FROM ended_offers WHERE account = %s AND offer_id = ANY(%s)",
            (account, ids),
        )
        return {offer_id for (offer_id,) in rows}
