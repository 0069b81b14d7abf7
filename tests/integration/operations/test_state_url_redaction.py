"""A PostgreSQL password given in STATE_URL's query (`?password=`) stays out of `status`,
`status --json` and the error that a failed connection raises (which the poll loop logs and
records in `poll_errors`)."""

from __future__ import annotations

import pytest

from adapters.persistence import PostgresStateStore, parse_state_url
from application.ports.errors import StateStoreError
from entrypoints.settings import load_settings
from entrypoints.status import gather_status, render_json
from entrypoints.wiring import Wired
from tests.integration.operations.harness import postgres_state_url
from tests.support.fakes import FakeClock
from tests.support.service import TEST_KEY

pytestmark = pytest.mark.integration

PASSWORD = "hunter2-in-the-query"


async def test_status_never_shows_a_password_given_as_a_query_parameter() -> None:
    async with postgres_state_url() as url:
        # The test server trusts loopback connections: the password is carried, not checked.
        settings = load_settings(
            allegro_client_id="app",
            allegro_client_secret="secret",
            allegro_api_url="http://127.0.0.1:9",
            allegro_auth_url="http://127.0.0.1:9/auth/oauth",
            allegro_account="shop",
            state_url=f"{url}&password={PASSWORD}",
            token_encryption_key=TEST_KEY,
        )
        wired = Wired(settings)
        try:
            report = await gather_status(settings, wired, FakeClock())
        finally:
            await wired.shutdown()

    shown = report.table() + render_json(report)
    assert PASSWORD not in shown
    assert "password=***" in report.table()
    assert "password=***" in render_json(report)


async def test_a_failed_connection_never_shows_a_password_given_as_a_query_parameter() -> None:
    location = parse_state_url(
        f"postgresql://openoms@127.0.0.1:9/openoms?connect_timeout=2&password={PASSWORD}"
    )

    with pytest.raises(StateStoreError, match="cannot connect to PostgreSQL") as raised:
        await PostgresStateStore.open(location)

    assert PASSWORD not in str(raised.value)
    assert "password=***" in str(raised.value)
