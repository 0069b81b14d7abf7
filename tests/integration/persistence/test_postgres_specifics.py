"""What only the PostgreSQL backend promises: schemas, reconnection, clear failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.persistence import (
    LeaseFence,
    LeaseLost,
    PostgresDatabase,
    PostgresLease,
    PostgresLocation,
    PostgresStateStore,
)
from application.ports.errors import StateStoreError
from application.ports.state import Cursor
from tests.contract.test_state_store_contract import make_batch
from tests.integration.persistence.backends import (
    open_backend,
    pg_execute,
    require_postgres,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def location(tmp_path: Path) -> AsyncIterator[PostgresLocation]:
    async with open_backend("postgresql", tmp_path) as backend:
        assert isinstance(backend.location, PostgresLocation)
        yield backend.location


async def test_tables_live_in_the_configured_schema(location: PostgresLocation) -> None:
    async with await PostgresStateStore.open(location) as store:
        await store.commit("shop", Cursor("1"))

    rows = await pg_execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "ORDER BY table_name",
        (location.schema,),
    )
    tables = [row[0] for row in rows]
    assert tables == [
        "cursors",
        "dead_letters",
        "ended_offers",
        "failures",
        "leases",
        "oauth_tokens",
        "offer_cursors",
        "offer_records",
        "offer_rounds",
        "order_records",
        "poll_errors",
        "schema_version",
        "staged_batches",
        "staged_offers",
    ]


async def test_two_schemas_in_one_database_are_separate(tmp_path: Path) -> None:
    async with (
        open_backend("postgresql", tmp_path) as first,
        open_backend("postgresql", tmp_path) as second,
    ):
        one, two = await first.state_store(), await second.state_store()

        await one.commit("shop", Cursor("1"))

        assert await two.load_cursor("shop") is None


async def test_a_dropped_connection_fails_one_call_then_reconnects(
    location: PostgresLocation,
) -> None:
    database = await PostgresDatabase.open(location)
    async with PostgresStateStore(database) as store:
        await store.commit("shop", Cursor("1"))
        [(pid,)] = await database.fetch_all("reading", "SELECT pg_backend_pid()")
        await pg_execute("SELECT pg_terminate_backend(%s)", (pid,))

        with pytest.raises(StateStoreError, match="committing the cursor"):
            await store.commit("shop", Cursor("2"))
        await store.commit("shop", Cursor("3"))

        assert await store.load_cursor("shop") == Cursor("3")


async def test_an_unreachable_server_is_a_state_store_error_without_the_password() -> None:
    await require_postgres()  # so that the failure below is ours, not the environment's
    location = PostgresLocation("postgresql://svc:s3cret@127.0.0.1:1/test")

    with pytest.raises(StateStoreError, match="cannot connect to PostgreSQL") as raised:
        await PostgresStateStore.open(location)

    assert "s3cret" not in str(raised.value)
    assert "svc:***@127.0.0.1:1" in str(raised.value)


async def test_the_connection_is_named_for_pg_stat_activity(location: PostgresLocation) -> None:
    database = await PostgresDatabase.open(location)
    try:
        rows = await database.fetch_all("reading", "SELECT current_setting('application_name')")
    finally:
        await database.aclose()

    assert rows == [("openoms-allegro",)]


async def test_staging_is_fenced_by_the_lease_like_a_commit(location: PostgresLocation) -> None:
    fence = LeaseFence()
    async with (
        await PostgresLease.open(location) as leases,
        await PostgresStateStore.open(location, fence) as store,
    ):
        with pytest.raises(LeaseLost, match="holds no lease"):
            await store.stage("shop", make_batch())
        assert await store.load_staged("shop") is None

        fence.lease = await leases.acquire("shop", "replica-a", timedelta(seconds=30))
        await store.stage("shop", make_batch())

        assert await store.load_staged("shop") == make_batch()
