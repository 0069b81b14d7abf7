"""The Allegro adapter's unit-test harness: fake time, an observer, and the client wired to
`FakeAllegroServer` through httpx's MockTransport (the token store is the one fake)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from adapters.allegro import AllegroClient, AllegroClientConfig, build_allegro_client
from application.ports.state import TokenPair
from tests.support.allegro_server import (
    API_URL,
    AUTH_URL,
    VENDOR,
    FakeAllegroServer,
    Reply,
    allegro_error,
    vendor_json,
)
from tests.support.fakes import MemoryTokenStore

__all__ = [
    "API_URL",
    "AUTH_URL",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "VENDOR",
    "FakeAllegroServer",
    "FakeTime",
    "Harness",
    "ManualTime",
    "MemoryTokenStore",
    "RecordingObserver",
    "Reply",
    "allegro_error",
    "make_config",
    "make_harness",
    "settle",
    "valid_pair",
    "vendor_json",
]

CLIENT_ID = "client-id-123"
CLIENT_SECRET = "client-secret-XYZ"
START = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


class FakeTime:
    """Wall clock, monotonic clock and sleep that only move when something sleeps."""

    def __init__(self, start: datetime = START) -> None:
        self.wall = start
        self.mono = 1_000.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)


class ManualTime(FakeTime):
    """Sleepers stay asleep until the test moves the clock past their deadline."""

    def __init__(self, start: datetime = START) -> None:
        super().__init__(start)
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.mono + seconds, woken))
        await woken

    async def advance_and_settle(self, seconds: float) -> None:
        self.advance(seconds)
        for deadline, woken in self._sleepers:
            if deadline <= self.mono + 1e-9 and not woken.done():
                woken.set_result(None)
        self._sleepers = [(d, w) for d, w in self._sleepers if not w.done()]
        await settle()


async def settle() -> None:
    """Let every runnable task run until it waits on something (no time passes)."""
    for _ in range(100):
        await asyncio.sleep(0)


@dataclass
class RecordingObserver:
    requests: list[tuple[str, int | str, float]] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)

    def request(self, endpoint: str, status: int | str, seconds: float) -> None:
        self.requests.append((endpoint, status, seconds))

    def rate_limit_wait(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_config(**overrides: Any) -> AllegroClientConfig:
    values: dict[str, Any] = {
        "api_url": API_URL,
        "auth_url": AUTH_URL,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **overrides,
    }
    return AllegroClientConfig(**values)


def valid_pair(time: FakeTime, access: str = "access-0", refresh: str = "refresh-0") -> TokenPair:
    return TokenPair(access, refresh, time.now() + timedelta(hours=12))


@dataclass
class Harness:
    fake: FakeAllegroServer
    store: MemoryTokenStore
    time: FakeTime
    observer: RecordingObserver
    client: AllegroClient


def make_harness(
    *,
    store: MemoryTokenStore | None = None,
    fake: FakeAllegroServer | None = None,
    time: FakeTime | None = None,
    jitter: Callable[[float], float] | None = None,
    **config: Any,
) -> Harness:
    time = time or FakeTime()
    fake = fake or FakeAllegroServer()
    if store is None:
        store = MemoryTokenStore({"default": valid_pair(time)})
    observer = RecordingObserver()
    client = build_allegro_client(
        make_config(**config),
        store,
        observer=observer,
        transport=httpx.MockTransport(fake),
        clock=time,
        monotonic=time.monotonic,
        sleep=time.sleep,
        jitter=jitter or (lambda ceiling: ceiling),
    )
    return Harness(fake, store, time, observer, client)
