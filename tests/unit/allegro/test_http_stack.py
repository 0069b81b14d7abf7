"""One HTTP stack: authlib's client is the `httpx` client respx patches, and respx sees it."""

from __future__ import annotations

import sys
from datetime import timedelta

import httpx
import respx

from adapters.allegro import build_allegro_client
from adapters.allegro.auth import build_oauth_client
from application.ports.state import TokenPair

from .fakes import API_URL, AUTH_URL, FakeTime, MemoryTokenStore, make_config


def test_authlib_builds_an_httpx_async_client_from_the_module_respx_patches() -> None:
    from authlib.integrations.httpx_client import _compat

    oauth = build_oauth_client(make_config(), httpx.AsyncHTTPTransport())

    assert isinstance(oauth, httpx.AsyncClient)
    assert httpx.AsyncClient in type(oauth).__mro__
    assert _compat.httpx2 is httpx  # authlib fell back to the pinned httpx...
    assert "httpx2" not in sys.modules  # ...because httpx2 is not installed


async def test_a_respx_route_intercepts_a_refresh_over_the_real_transport(
    respx_mock: respx.MockRouter,
) -> None:
    time = FakeTime()
    store = MemoryTokenStore({"default": TokenPair("old", "refresh-0", time.now())})
    token_route = respx_mock.post(f"{AUTH_URL}/token").respond(
        200,
        json={"access_token": "new", "refresh_token": "refresh-1", "expires_in": 43199},
    )
    stats_route = respx_mock.get(f"{API_URL}/order/event-stats").respond(200, json={})
    client = build_allegro_client(make_config(), store, clock=time)  # no injected transport
    try:
        assert await client.journal.latest_event_id() is None
    finally:
        await client.aclose()

    assert token_route.call_count == 1
    assert b"refresh_token=refresh-0" in token_route.calls.last.request.content
    assert stats_route.calls.last.request.headers["Authorization"] == "Bearer new"
    assert store.pairs["default"].expires_at == time.now() + timedelta(seconds=43199)
