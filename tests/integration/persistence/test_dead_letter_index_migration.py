"""A database written by the release before the dead-letter index (issue 12, item 9) opens,
migrates, keeps its data, and indexes dead letters from then on; on both SQL backends."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.persistence import (
    PostgresStateStore,
    SqliteLocation,
    SqliteStateStore,
    StateLocation,
)
from application.ports.publisher import DEAD_LETTERS, OutboundMessage
from application.ports.state import Cursor, Quarantined, StagedBatch
from domain.mapping import StatusTriple
from domain.policy import OrderRecord
from domain.statuses import OrderStatus, PaymentStatus
from tests.integration.persistence.backends import (
    DURABLE_KINDS,
    open_backend,
    open_database,
    open_previous_release,
    state_store_on,
)

ACCOUNT = "shop"
PAID = StatusTriple(OrderStatus.NEW, PaymentStatus.PAID, None)


@pytest.fixture(params=DURABLE_KINDS)
async def location(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateLocation]:
    async with open_backend(request.param, tmp_path) as backend:
        assert backend.location is not None
        yield backend.location


async def open_store(location: StateLocation) -> SqliteStateStore | PostgresStateStore:
    return state_store_on(await open_database(location))


async def test_an_older_database_gets_the_index_and_keeps_its_state(
    location: StateLocation,
) -> None:
    old = await open_previous_release(location, "dead-letter index")
    async with old.transaction("arrange") as connection:
        await connection.execute("INSERT INTO cursors (account, position) VALUES ('shop', '9')")
        await connection.execute(
            "INSERT INTO failures (account, checkout_form_id, attempts, last_error) "
            "VALUES ('shop', 'cf-1', 2, 'boom')"
        )
        await connection.execute(
            "INSERT INTO order_records (account, checkout_form_id, revision, order_status, "
            "payment_status) VALUES ('shop', 'cf-0', 'rev-1', 'new', 'paid')"
        )
    await old.aclose()

    store = await open_store(location)
    try:
        assert await store.load_cursor(ACCOUNT) == Cursor("9")
        # Recorded before content fingerprints too (issue 14): read back without one.
        assert dict(await store.load_records(ACCOUNT, ["cf-0"])) == {
            "cf-0": OrderRecord("cf-0", "rev-1", PAID, None)
        }
        assert await store.load_quarantined(ACCOUNT) == ()
        entry = Quarantined("cf-1", "10", "boom", 3, datetime(2026, 3, 14, tzinfo=UTC))
        message = OutboundMessage(DEAD_LETTERS, b"cf-1", b"{}", ())
        await store.stage(ACCOUNT, StagedBatch(Cursor("10"), (), ("cf-1",), (message,), (entry,)))
        await store.commit(ACCOUNT, Cursor("10"), (), ("cf-1",), (entry,))

        assert await store.load_quarantined(ACCOUNT) == (entry,)
        assert (await store.load_errors(ACCOUNT)).failing_orders == ()
    finally:
        await store.aclose()


# A batch staged by the previous release, in its layout (format 1, without "quarantined"),
# as a crash between its send and its commit left it: the new release re-sends the same
# bytes and commits it (its dead letters were not indexed then, so none is now).
PREVIOUS_RELEASE_STAGED = json.dumps(
    {
        "format": 1,
        "cursor": {"position": "20"},
        "records": [["cf-ok", "rev-1", "new", "paid", None]],
        "cleared_failures": ["cf-ok", "cf-dead"],
        "messages": [
            {
                "channel": DEAD_LETTERS,
                "key": base64.b64encode(b"cf-dead").decode(),
                "value": base64.b64encode(b'{"raw":"..."}').decode(),
                "headers": [["ce_type", base64.b64encode(b"dead-letter").decode()]],
            }
        ],
    }
)


async def test_a_batch_staged_by_the_previous_release_is_loaded_and_committed(
    location: StateLocation,
) -> None:
    old = await open_previous_release(location, "dead-letter index")
    insert = "INSERT INTO staged_batches (account, payload) VALUES (%s, %s)"
    if isinstance(location, SqliteLocation):
        insert = "INSERT INTO staged_batches (account, payload) VALUES (?, ?)"
    async with old.transaction("arrange") as connection:
        await connection.execute(
            "INSERT INTO failures (account, checkout_form_id, attempts, last_error) "
            "VALUES ('shop', 'cf-dead', 3, 'unmappable')"
        )
        await connection.execute(insert, (ACCOUNT, PREVIOUS_RELEASE_STAGED))
    await old.aclose()

    store = await open_store(location)
    try:
        staged = await store.load_staged(ACCOUNT)
        assert staged is not None
        assert staged.cursor == Cursor("20")
        assert [m.key for m in staged.messages] == [b"cf-dead"]
        assert staged.quarantined == ()

        # What `outbox.resend_staged` does once the messages are sent again.
        await store.commit(ACCOUNT, staged.cursor, staged.records, staged.cleared_failures)

        assert await store.load_staged(ACCOUNT) is None
        assert await store.load_cursor(ACCOUNT) == Cursor("20")
        assert dict(await store.load_records(ACCOUNT, ["cf-ok"])) == {
            "cf-ok": OrderRecord("cf-ok", "rev-1", PAID, None)
        }
        assert (await store.load_errors(ACCOUNT)).failing_orders == ()
        assert await store.load_quarantined(ACCOUNT) == ()
    finally:
        await store.aclose()
