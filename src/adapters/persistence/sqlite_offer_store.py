"""The offer store in the SQLite state file (docs/offers.md).

Its own class beside `SqliteStateStore`, as `SqliteTokenStore` is: one port per adapter, on a
`SqliteDatabase` that the caller may share with the other stores of the same file. Each
method that writes does so in one transaction (`SqliteDatabase.transaction`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

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
from adapters.persistence.rows import utc_from_text
from adapters.persistence.sqlite_database import SqliteDatabase
from application.ports.errors import StateStoreError
from application.ports.offers import OfferCursor, OfferRound, OfferStore, StagedOffers
from domain.offers import OfferRecord

# Ids travel as one JSON array: no limit on how many, no SQL built from strings.
_SELECT_RECORDS = """
    SELECT offer_id, offer_values, ended_by, publication_status FROM offer_records
    WHERE account = ? AND offer_id IN (SELECT value FROM json_each(?))
"""
_UPSERT_CURSOR = """
    INSERT INTO offer_cursors (account, position, read_at) VALUES (?, ?, ?)
    ON CONFLICT (account) DO UPDATE
    SET position = excluded.position, read_at = excluded.read_at, updated_at = CURRENT_TIMESTAMP
"""
_UPSERT_RECORD = """
    INSERT INTO offer_records (account, offer_id, offer_values, ended_by, publication_status)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (account, offer_id) DO UPDATE
    SET offer_values = excluded.offer_values,
        ended_by = excluded.ended_by,
        publication_status = excluded.publication_status,
        updated_at = CURRENT_TIMESTAMP
"""
_UPSERT_STAGED = """
    INSERT INTO staged_offers (account, payload) VALUES (?, ?)
    ON CONFLICT (account) DO UPDATE
    SET payload = excluded.payload, staged_at = CURRENT_TIMESTAMP
"""
_UPSERT_ROUND = """
    INSERT INTO offer_rounds (account, payload, done) VALUES (?, ?, 0)
    ON CONFLICT (account) DO UPDATE
    SET payload = excluded.payload, done = 0, staged_at = CURRENT_TIMESTAMP
"""
_FORGET_ENDED = """
    DELETE FROM ended_offers
    WHERE account = ? AND offer_id IN (SELECT value FROM json_each(?))
"""
_REMEMBER_ENDED = """
    INSERT INTO ended_offers (account, offer_id) SELECT ?, value FROM json_each(?) WHERE true
    ON CONFLICT (account, offer_id) DO NOTHING
"""
_SELECT_ENDED = """
    SELECT offer_id FROM ended_offers
    WHERE account = ? AND offer_id IN (SELECT value FROM json_each(?))
"""


class SqliteOfferStore(OwnsDatabase[SqliteDatabase], OfferStore):
    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    @classmethod
    async def open(cls, path: Path | None) -> SqliteOfferStore:
        """`path` None: in memory. Creates the directory and migrates the schema."""
        return cls(await SqliteDatabase.open(path))

    # --- offer events out -------------------------------------------------------------------

    async def load_offer_cursor(self, account: str) -> OfferCursor | None:
        rows = await self._database.fetch_all(
            "loading the offer cursor",
            "SELECT position, read_at FROM offer_cursors WHERE account = ?",
            (account,),
        )
        if not rows:
            return None
        position, read_at = rows[0]
        try:
            return OfferCursor(position, utc_from_text(read_at))
        except (TypeError, ValueError) as exc:
            raise StateStoreError(f"the offer cursor is unreadable: {exc}") from exc

    async def load_offer_records(
        self, account: str, offer_ids: Collection[str]
    ) -> Mapping[str, OfferRecord]:
        rows = await self._database.fetch_all(
            "loading offer records", _SELECT_RECORDS, (account, json.dumps(list(offer_ids)))
        )
        records = (offer_record_from_row(row) for row in rows)
        return {record.offer_id: record for record in records}

    async def stage_offers(self, account: str, batch: StagedOffers) -> None:
        payload = encode_staged_offers(batch)
        async with self._database.transaction("staging offers") as connection:
            await connection.execute(_UPSERT_STAGED, (account, payload))

    async def load_staged_offers(self, account: str) -> StagedOffers | None:
        rows = await self._database.fetch_all(
            "loading the staged offers",
            "SELECT payload FROM staged_offers WHERE account = ?",
            (account,),
        )
        return decode_staged_offers(rows[0][0]) if rows else None

    async def commit_offers(
        self, account: str, cursor: OfferCursor | None, records: Sequence[OfferRecord]
    ) -> None:
        async with self._database.transaction("committing offers") as connection:
            if cursor is not None:
                row = (account, cursor_position(cursor), cursor_read_at(cursor).isoformat())
                await connection.execute(_UPSERT_CURSOR, row)
            await connection.executemany(
                _UPSERT_RECORD, [(account, *offer_record_row(record)) for record in records]
            )
            await connection.execute("DELETE FROM staged_offers WHERE account = ?", (account,))

    # --- inventory in -----------------------------------------------------------------------

    async def stage_round(self, account: str, offer_round: OfferRound) -> None:
        payload = encode_round(offer_round)
        async with self._database.transaction("staging an offer round") as connection:
            await connection.execute(_UPSERT_ROUND, (account, payload))

    async def load_round(self, account: str) -> tuple[OfferRound, bool] | None:
        rows = await self._database.fetch_all(
            "loading the offer round",
            "SELECT payload, done FROM offer_rounds WHERE account = ?",
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
            marked = await connection.execute(
                "UPDATE offer_rounds SET done = 1 WHERE account = ?", (account,)
            )
            if marked.rowcount == 0:
                raise ValueError(f"no offer round is staged for account {account!r}")
            # Forgotten first: an offer in both was ended last (as MemoryOfferStore does).
            await connection.execute(_FORGET_ENDED, (account, json.dumps(list(reactivated))))
            await connection.execute(_REMEMBER_ENDED, (account, json.dumps(list(ended))))

    async def ended_by_service(self, account: str, offer_ids: Collection[str]) -> set[str]:
        rows = await self._database.fetch_all(
            "loading the offers the service ended",
            _SELECT_ENDED,
            (account, json.dumps(list(offer_ids))),
        )
        return {offer_id for (offer_id,) in rows}
