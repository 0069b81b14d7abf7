"""The health listener cannot be made to hold the process's file descriptors, and `/readyz`
does not probe the broker and the stores on every hit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from entrypoints.health import Readiness, Role
from entrypoints.http import CachedReadiness, HttpEndpoint, HttpLimits, create_app, server_config
from entrypoints.metrics import Metrics
from entrypoints.settings import Settings

LOOPBACK = "127.0.0.1"
READY = Readiness(True, Role.SINGLE, {"broker": True})
WAIT_SECONDS = 5.0  # far longer than any bound under test: reaching it means "never"


class CountingCheck:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> Readiness:
        self.calls += 1
        return READY


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


StartEndpoint = Callable[..., Awaitable[int]]


@pytest.fixture
async def start_endpoint() -> AsyncIterator[StartEndpoint]:
    """Starts endpoints on free loopback ports (returns the port); stops them afterwards."""
    endpoints: list[HttpEndpoint] = []

    async def start(
        limits: HttpLimits, check: CountingCheck | None = None, ttl_seconds: float = 1.0
    ) -> int:
        app = create_app(Metrics(), check or CountingCheck(), readiness_ttl_seconds=ttl_seconds)
        endpoint = HttpEndpoint(app, LOOPBACK, 0, limits)
        endpoints.append(endpoint)
        await endpoint.start()
        return endpoint.port

    yield start
    for endpoint in endpoints:
        await endpoint.stop()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True when the server closes the connection (EOF) within WAIT_SECONDS."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while await reader.read(4096):
                pass  # a response before the close is fine
    except TimeoutError:
        return False
    return True


def test_the_listener_defaults_to_loopback_with_bounded_connections_and_waits() -> None:
    limits = HttpLimits()

    config = server_config(create_app(Metrics(), CountingCheck()), LOOPBACK, 0, limits)

    assert Settings.model_fields["http_host"].default == "127.0.0.1"
    assert 0 < limits.max_connections <= 64
    assert 0 < limits.header_timeout_seconds <= 10
    assert config.limit_concurrency is not None
    assert config.limit_concurrency <= limits.max_connections + 1
    assert config.timeout_keep_alive <= 10
    assert getattr(config.http, "limits", None) == limits


async def test_a_connection_that_never_sends_a_request_head_is_closed(
    start_endpoint: StartEndpoint,
) -> None:
    port = await start_endpoint(HttpLimits(header_timeout_seconds=0.2))
    silent_reader, silent = await asyncio.open_connection(LOOPBACK, port)
    slow_reader, slow = await asyncio.open_connection(LOOPBACK, port)
    slow.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line

    try:
        assert await closed_by_server(silent_reader)
        assert await closed_by_server(slow_reader)
    finally:
        silent.close()
        slow.close()


async def test_a_kept_alive_connection_trickling_its_next_head_is_closed(
    start_endpoint: StartEndpoint,
) -> None:
    port = await start_endpoint(HttpLimits(header_timeout_seconds=0.3, keep_alive_seconds=60))
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), WAIT_SECONDS)
    writer.write(b"GET /he")  # stops uvicorn's keep-alive timer, and then nothing more

    try:
        assert first.startswith(b"HTTP/1.1 200")
        assert await closed_by_server(reader)
    finally:
        writer.close()


async def test_connections_beyond_the_limit_are_closed_and_the_others_still_served(
    start_endpoint: StartEndpoint,
) -> None:
    port = await start_endpoint(HttpLimits(max_connections=3, header_timeout_seconds=60))
    held = [await asyncio.open_connection(LOOPBACK, port) for _ in range(3)]
    extra_reader, extra = await asyncio.open_connection(LOOPBACK, port)

    try:
        assert await closed_by_server(extra_reader)
        reader, writer = held[0]
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT_SECONDS)
        assert answer.startswith(b"HTTP/1.1 200")
    finally:
        extra.close()
        for _, writer in held:
            writer.close()


async def test_two_readiness_hits_within_the_ttl_do_one_probe(
    start_endpoint: StartEndpoint,
) -> None:
    check = CountingCheck()
    # A TTL no run reaches: the two hits are "within" it however slow the machine is.
    port = await start_endpoint(HttpLimits(), check, ttl_seconds=3600.0)

    async with httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{port}", timeout=5) as client:
        first = await client.get("/readyz")
        second = await client.get("/readyz")

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json() == READY.body()
    assert check.calls == 1


async def test_a_cached_report_expires_after_its_ttl() -> None:
    check, monotonic = CountingCheck(), FakeMonotonic()
    cached = CachedReadiness(check, ttl_seconds=1.0, monotonic=monotonic)

    await cached()
    monotonic.now += 0.9
    await cached()
    assert check.calls == 1

    monotonic.now += 0.2
    assert await cached() == READY
    assert check.calls == 2


async def test_hits_during_a_probe_wait_for_it_instead_of_probing_again() -> None:
    check = CountingCheck()
    cached = CachedReadiness(check, ttl_seconds=0)  # no cache: only the probe is shared

    # Each hit runs up to its first wait before the probe it started gets to run.
    reports = await asyncio.gather(*(cached() for _ in range(20)))

    assert reports == [READY] * 20
    assert check.calls == 1
