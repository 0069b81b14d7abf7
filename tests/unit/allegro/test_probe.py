"""The operator's probes (adapters/allegro/probe.py): one attempt, no refresh, and a few words
on why Allegro could not be reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from adapters.allegro import AllegroClientConfig
from adapters.allegro.errors import ClientRejected
from adapters.allegro.probe import (
    check_client_credentials,
    describe_answer,
    describe_failure,
    probe_client,
)
from application.ports.errors import AllegroUnavailable
from application.ports.state import TokenPair

CONFIG = AllegroClientConfig(
    api_url="https://allegro.test",
    auth_url="https://allegro.test/auth/oauth",
    client_id="app",
    client_secret="secret",
    initial_refresh_token="the-refresh-token",
)


def chained(outer: Exception, *causes: BaseException) -> Exception:
    current: BaseException = outer
    for cause in causes:
        current.__cause__ = cause
        current = cause
    return outer


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (
            chained(
                AllegroUnavailable("Allegro /order/event-stats: request failed (ConnectError)"),
                httpx.ConnectError("All connection attempts failed"),
                OSError("All connection attempts failed"),
                ConnectionRefusedError(111, "Connect call failed"),
            ),
            "unreachable (connection refused)",
        ),
        (
            chained(AllegroUnavailable("timed out"), httpx.ReadTimeout("read")),
            "no answer within 2 s",
        ),
        (
            chained(AllegroUnavailable("timed out"), httpx.ConnectTimeout("connect")),
            "unreachable (no connection within 2 s)",
        ),
        (TimeoutError(), "no answer within 2 s"),
        (AllegroUnavailable("Allegro /order/event-stats: HTTP 503 (...)"), None),
    ],
)
def test_a_failure_is_said_in_a_few_words(failure: BaseException, said: str | None) -> None:
    assert describe_failure(failure, 2.0) == said


async def test_a_probe_client_tries_once_and_never_refreshes() -> None:
    seen: list[str] = []

    def allegro(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/order/event-stats":
            return httpx.Response(503, json={"errors": []})
        return httpx.Response(200, json={"access_token": "new", "refresh_token": "rotated"})

    pair = TokenPair("access", "the-refresh-token", datetime.now(UTC) + timedelta(hours=2))
    client = probe_client(CONFIG, pair, timeout=1.0, transport=httpx.MockTransport(allegro))
    try:
        with pytest.raises(AllegroUnavailable) as caught:
            await client.journal.latest_event_id()
    finally:
        await client.aclose()

    assert seen == ["/order/event-stats"]  # one attempt, no retry, no token request
    said = describe_answer(caught.value)
    assert said.startswith("Allegro GET /order/event-stats answered HTTP 503 ("), said
    assert "retr" not in said  # the service's client words its error for its retries


async def test_the_client_credentials_grant_proves_the_secret_and_consumes_nothing() -> None:
    grants: list[dict[str, list[str]]] = []

    def allegro(request: httpx.Request) -> httpx.Response:
        grants.append(parse_qs(request.content.decode()))
        return httpx.Response(200, json={"access_token": "app-token", "expires_in": 43199})

    await check_client_credentials(CONFIG, transport=httpx.MockTransport(allegro))

    assert grants == [{"grant_type": ["client_credentials"]}]


@pytest.mark.parametrize("code", ["invalid_client", "unauthorized"])
async def test_a_refused_client_secret_is_named(code: str) -> None:
    """Both of the token endpoint's answers to a wrong id or secret (docs/allegro-api.md, OAuth)."""

    def allegro(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": code, "error_description": "Bad"})

    with pytest.raises(ClientRejected, match=rf"\({code}\); check ALLEGRO_CLIENT_ID and ALLEGRO_"):
        await check_client_credentials(CONFIG, transport=httpx.MockTransport(allegro))
