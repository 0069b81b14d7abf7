"""`openoms-allegro status`: what it shows, and that it never refreshes a token."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from adapters.allegro import AllegroClientConfig, build_allegro_client
from application.ports import AllegroAuthError
from application.ports.state import (
    Cursor,
    ErrorReport,
    FailingOrder,
    PollError,
    TokenPair,
    TokenStore,
)
from entrypoints.lag import Lag
from entrypoints.settings import load_settings
from entrypoints.status import (
    AccessOnlyTokens,
    StatusReport,
    TokenInfo,
    WriterStatus,
    gather_status,
)
from entrypoints.wiring import Wired
from tests.support.fakes import T0, FakeClock
from tests.support.service import TEST_KEY

CURSOR = "1773479698020317"  # 2026-03-14T09:14:58Z
LATEST = "1773479758020317"  # one minute later


def make_report(**overrides: object) -> StatusReport:
    values: dict[str, object] = {
        "account": "shop",
        "state_url": "postgresql://openoms:***@db/openoms",
        "checked_at": T0,
        "cursor": Cursor(CURSOR),
        "lag": Lag(Cursor(CURSOR), LATEST, 60.0, 12, False, T0),
        "lag_error": None,
        "token": TokenInfo(expires_at=T0 + timedelta(hours=11, minutes=59)),
        "errors": ErrorReport(
            PollError("AllegroUnavailable: HTTP 503", T0 - timedelta(minutes=5)),
            (FailingOrder("cf-9", 2, "unknown fulfillment status 'LOST'", T0),),
        ),
        "writer": WriterStatus(
            holder="replica-a:7:c0ffee", lease_until=T0 + timedelta(seconds=20), fencing_token=3
        ),
    }
    values.update(overrides)
    return StatusReport(**values)  # type: ignore[arg-type]


def test_the_table_shows_each_part_on_its_own_line() -> None:
    lines = make_report().table().splitlines()

    assert lines == [
        "account         shop",
        "state store     postgresql://openoms:***@db/openoms",
        "writer          replica-a:7:c0ffee, lease until 2026-03-14T09:00:20+00:00 "
        "(fencing token 3)",
        f"cursor          {CURSOR} (event time 2026-03-14T09:14:58+00:00)",
        f"newest event    {LATEST} (event time 2026-03-14T09:15:58+00:00)",
        "lag             12 events, 60.0 s of event time",
        "token           access token valid until 2026-03-14T20:59:00+00:00 (11 h 59 min left)",
        "last error      2026-03-14T08:55:00+00:00  AllegroUnavailable: HTTP 503",
        "failing orders  1 waiting for a retry",
        "                  cf-9: 2 attempt(s), unknown fulfillment status 'LOST'",
    ]


def test_the_json_report_carries_the_same_facts() -> None:
    report = json.loads(json.dumps(make_report().to_json()))

    assert report["cursor"] == {
        "position": CURSOR,
        "event_time": "2026-03-14T09:14:58+00:00",
    }
    assert report["lag"] == {
        "latest_event_id": LATEST,
        "seconds": 60.0,
        "events": 12,
        "events_capped": False,
        "error": None,
    }
    assert report["token"]["expires_in_seconds"] == 43140.0
    assert report["last_error"]["message"] == "AllegroUnavailable: HTTP 503"
    assert report["failing_orders"][0]["checkout_form_id"] == "cf-9"


def test_what_is_unknown_is_said_with_its_reason() -> None:
    report = make_report(
        cursor=None,
        lag=None,
        lag_error="not measured: Allegro refused the stored access token",
        token=TokenInfo(error="TOKEN_ENCRYPTION_KEY is not set"),
        errors=ErrorReport(),
    )

    table = report.table()

    assert "cursor          none stored" in table
    assert "lag             unknown: not measured: Allegro refused" in table
    assert "token           unknown: TOKEN_ENCRYPTION_KEY is not set" in table
    assert "last error      none recorded" in table
    assert "failing orders  none" in table
    assert report.to_json()["cursor"] is None


@pytest.mark.parametrize(
    ("writer", "shown"),
    [
        (WriterStatus(), "none: no process is polling or backfilling this account"),
        (
            WriterStatus(holder="host:42:ab", command="backfill", since=T0),
            "host:42:ab (backfill) since 2026-03-14T09:00:00+00:00",
        ),
        (WriterStatus(in_memory=True), "none (an in-memory database is private to its process)"),
        (WriterStatus(error="cannot open /x.lock: denied"), "unknown: cannot open /x.lock: denied"),
    ],
)
def test_the_writer_line_says_who_writes_or_why_it_is_unknown(
    writer: WriterStatus, shown: str
) -> None:
    assert f"writer          {shown}\n" in make_report(writer=writer).table()


def test_the_json_report_names_the_writer() -> None:
    writer = WriterStatus(holder="host:42:ab", command="run", since=T0)

    assert make_report(writer=writer).to_json()["writer"] == {
        "holder": "host:42:ab",
        "command": "run",
        "since": "2026-03-14T09:00:00+00:00",
        "lease_until": None,
        "fencing_token": None,
        "error": None,
    }


def test_a_capped_lag_is_shown_as_at_least() -> None:
    lag = Lag(Cursor(CURSOR), LATEST, 60.0, 1000, True, T0)

    assert "1000+ events" in make_report(lag=lag).table()


class TokenEndpointWatch:
    """Allegro that refuses every access token and records any token request."""

    def __init__(self) -> None:
        self.token_requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            self.token_requests += 1
            return httpx.Response(200, json={"access_token": "new", "refresh_token": "rotated"})
        return httpx.Response(401, json={"error": "invalid_token"})


async def test_a_client_on_access_only_tokens_never_asks_for_a_refresh() -> None:
    allegro = TokenEndpointWatch()
    stored = TokenPair("access", "the-refresh-token", T0 + timedelta(hours=2))
    config = AllegroClientConfig(
        api_url="https://allegro.test",
        auth_url="https://allegro.test/auth/oauth",
        client_id="app",
        client_secret="secret",
        max_attempts=1,
    )
    tokens: TokenStore = AccessOnlyTokens(stored)
    client = build_allegro_client(
        config, tokens, transport=httpx.MockTransport(allegro), clock=FakeClock()
    )
    try:
        with pytest.raises(AllegroAuthError):
            await client.journal.latest_event_id()
    finally:
        await client.aclose()

    assert allegro.token_requests == 0
    loaded = await tokens.load("shop")
    assert loaded is not None
    assert loaded.refresh_token == ""


async def test_status_leaves_the_lag_unmeasured_when_the_token_is_about_to_expire(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        allegro_client_id="app",
        allegro_client_secret="secret",
        allegro_api_url="http://127.0.0.1:9",  # nothing listens: any request would fail
        allegro_auth_url="http://127.0.0.1:9/auth/oauth",
        allegro_account="shop",
        state_url=f"sqlite:///{tmp_path}/state.db",
        token_encryption_key=TEST_KEY,
    )
    clock = FakeClock()
    wired = Wired(settings)
    try:
        tokens: TokenStore = await wired.token_store()
        await tokens.save("shop", TokenPair("a", "r", clock.now() + timedelta(minutes=6)))

        report = await gather_status(settings, wired, clock)
    finally:
        await wired.shutdown()

    assert report.lag is None
    assert report.lag_error is not None
    assert "never refreshes tokens" in report.lag_error
    assert report.token.expires_at == clock.now() + timedelta(minutes=6)
    assert report.cursor is None
