"""A database written by the release before content fingerprints (issue 14) opens, migrates,
reads its order records back with content None, keeps fingerprints from then on, and re-sends
the batch that release staged; on both SQL backends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.persistence import (
    PostgresStateStore,
    SqliteLocation,
    SqliteStateStore,
    StateLocation,
)
from application.ports.state import Cursor
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
CONTENT = "1;buyer=0123456789abcdef;shipping_address=fedcba9876543210"
PAID = StatusTriple(OrderStatus.NEW, PaymentStatus.PAID, None)
SHIPPED = StatusTriple(OrderStatus.SHIPPED, PaymentStatus.PAID, "SENT")


@pytest.fixture(params=DURABLE_KINDS)
async def location(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateLocation]:
    async with open_backend(request.param, tmp_path) as backend:
        assert backend.location is not None
        yield backend.location


async def open_store(location: StateLocation) -> SqliteStateStore | PostgresStateStore:
    return state_store_on(await open_database(location))


async def test_old_records_read_back_with_content_none_and_take_one_later(
    location: StateLocation,
) -> None:
    old = await open_previous_release(location, "content's fingerprint")
    async with old.transaction("arrange") as connection:
        await connection.execute(
            "INSERT INTO order_records (account, checkout_form_id, revision, order_status, "
            "payment_status, fulfillment_status) VALUES "
            "('shop', 'cf-1', 'rev-1', 'new', 'paid', NULL), "
            "('shop', 'cf-2', NULL, 'shipped', 'paid', 'SENT')"
        )
    await old.aclose()

    store = await open_store(location)
    try:
        assert dict(await store.load_records(ACCOUNT, ["cf-1", "cf-2"])) == {
            "cf-1": OrderRecord("cf-1", "rev-1", PAID, None),
            "cf-2": OrderRecord("cf-2", None, SHIPPED, None),
        }

        fingerprinted = OrderRecord("cf-1", "rev-2", PAID, CONTENT)
        await store.commit(ACCOUNT, Cursor("10"), [fingerprinted])

        assert dict(await store.load_records(ACCOUNT, ["cf-1", "cf-2"])) == {
            "cf-1": fingerprinted,
            "cf-2": OrderRecord("cf-2", None, SHIPPED, None),
        }
    finally:
        await store.aclose()


# A batch staged by the previous release (format 1, five record columns), as a crash between
# its send and its commit left it: the new release re-sends it and commits its records.
PREVIOUS_RELEASE_STAGED = json.dumps(
    {
        "format": 1,
        "cursor": {"position": "20"},
        "records": [["cf-1", "rev-3", "new", "paid", None]],
        "cleared_failures": ["cf-1"],
        "messages": [],
    }
)


async def test_a_batch_staged_by_the_previous_release_commits_with_content_none(
    location: StateLocation,
) -> None:
    old = await open_previous_release(location, "content's fingerprint")
    insert = "INSERT INTO staged_batches (account, payload) VALUES (%s, %s)"
    if isinstance(location, SqliteLocation):
        insert = "INSERT INTO staged_batches (account, payload) VALUES (?, ?)"
    async with old.transaction("arrange") as connection:
        await connection.execute(insert, (ACCOUNT, PREVIOUS_RELEASE_STAGED))
    await old.aclose()

    store = await open_store(location)
    try:
        staged = await store.load_staged(ACCOUNT)
        assert staged is not None
        assert staged.records == (OrderRecord("cf-1", "rev-3", PAID, None),)

        # What `outbox.resend_staged` does once the messages are sent again.
        await store.commit(ACCOUNT, staged.cursor, staged.records, staged.cleared_failures)

        assert await store.load_staged(ACCOUNT) is None
        assert dict(await store.load_records(ACCOUNT, ["cf-1"])) == {
            "cf-1": OrderRecord("cf-1", "rev-3", PAID, None)
        }
    finally:
        await store.aclose()
