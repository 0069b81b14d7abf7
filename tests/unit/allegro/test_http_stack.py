"""One HTTP stack: authlib's client is the `httpx` client respx patches, and respx sees it;
the network below is httpx's own transport, or an httpx client when a proxy is configured."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import httpx
import pytest
import respx

from adapters.allegro import build_allegro_client
from adapters.allegro.auth import build_oauth_client
from adapters.allegro.client import network_transport
from adapters.allegro.transport import ClientTransport
from application.ports.errors import AllegroUnavailable
from application.ports.state import TokenPair

from .fakes import API_URL, AUTH_URL, FakeTime, MemoryTokenStore, make_config, valid_pair


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


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def _clear_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_without_a_proxy_requests_go_straight_to_httpx_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clear_proxies(monkeypatch)

    assert isinstance(network_transport(make_config()), httpx.AsyncHTTPTransport)


async def test_a_proxy_named_by_the_environment_carries_the_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy on loopback that refuses every tunnel: the API request reached it."""
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0])
        writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _clear_proxies(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    time = FakeTime()
    store = MemoryTokenStore({"default": valid_pair(time)})
    config = make_config(max_attempts=1)
    client = build_allegro_client(config, store, clock=time)
    try:
        async with server:
            with pytest.raises(AllegroUnavailable):
                await client.journal.latest_event_id()
    finally:
        await client.aclose()

    assert isinstance(network_transport(config), ClientTransport)
    assert seen == [b"CONNECT api.allegro.test:443 HTTP/1.1"]
