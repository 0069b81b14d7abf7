"""Test doubles for the Allegro adapter: fake time, a token store, an observer, a fake Allegro."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

from adapters.allegro import AllegroClient, AllegroClientConfig, build_allegro_client
from application.ports.state import TokenPair

VENDOR = "application/vnd.allegro.public.v1+json"
API_URL = "https://api.allegro.test"
AUTH_URL = "https://allegro.test/auth/oauth"
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
class MemoryTokenStore:
    pairs: dict[str, TokenPair] = field(default_factory=dict)
    saves: list[tuple[str, TokenPair]] = field(default_factory=list)
    loads: int = 0

    async def load(self, account: str) -> TokenPair | None:
        self.loads += 1
        return self.pairs.get(account)

    async def save(self, account: str, pair: TokenPair) -> None:
        self.saves.append((account, pair))
        self.pairs[account] = pair


@dataclass
class RecordingObserver:
    requests: list[tuple[str, int | str, float]] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)

    def request(self, endpoint: str, status: int | str, seconds: float) -> None:
        self.requests.append((endpoint, status, seconds))

    def rate_limit_wait(self, seconds: float) -> None:
        self.waits.append(seconds)


Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def vendor_json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": VENDOR, **(headers or {})},
    )


def allegro_error(status: int, code: str, message: str) -> httpx.Response:
    error = {"code": code, "message": message, "details": None, "path": None}
    return vendor_json(status, {"errors": [{**error, "userMessage": message, "metadata": {}}]})


class FakeAllegro:
    """Just enough Allegro for MockTransport: a rotating token endpoint, bearer checks on the
    REST API, and per-path scripted replies (the last reply of a script repeats)."""

    def __init__(self) -> None:
        self.access_token = "access-0"
        self.refresh_token = "refresh-0"
        self.issued = 0
        self.expires_in: Any = 43199
        self.requests: list[httpx.Request] = []
        self.token_replies: list[Reply] = []
        self.device_replies: list[Reply] = []
        self.on_api_request: Callable[[httpx.Request], None] | None = None
        self._scripts: dict[str, list[Reply]] = {}

    def script(self, path: str, *replies: Reply) -> None:
        self._scripts.setdefault(path, []).extend(replies)

    @property
    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == httpx.URL(API_URL).host]

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/auth/oauth/token"]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        await asyncio.sleep(0)  # let concurrent callers interleave, as over a network
        if request.url.path == "/auth/oauth/token":
            return self._reply(self.token_replies, request) or self._refresh(request)
        if request.url.path == "/auth/oauth/device":
            reply = self._reply(self.device_replies, request)
            assert reply is not None, "no device reply scripted"
            return reply
        if self.on_api_request is not None:
            self.on_api_request(request)
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return vendor_json(
                401, {"error": "invalid_token", "error_description": "Access token expired: x"}
            )
        script = self._scripts.get(request.url.path)
        assert script, f"unexpected request {request.method} {request.url}"
        reply = self._reply(script, request, keep_last=True)
        assert reply is not None
        return reply

    def _reply(
        self, replies: list[Reply], request: httpx.Request, *, keep_last: bool = False
    ) -> httpx.Response | None:
        if not replies:
            return None
        reply = replies[0] if keep_last and len(replies) == 1 else replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply

    def _refresh(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != (
            self.refresh_token
        ):
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "x"})
        self.issued += 1
        self.access_token = f"access-{self.issued}"
        self.refresh_token = f"refresh-{self.issued}"
        return httpx.Response(
            200,
            json={
                "access_token": self.access_token,
                "token_type": "bearer",
                "refresh_token": self.refresh_token,
                "expires_in": self.expires_in,
                "scope": "allegro:api:orders:read",
                "jti": "abc",
            },
        )


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
    fake: FakeAllegro
    store: MemoryTokenStore
    time: FakeTime
    observer: RecordingObserver
    client: AllegroClient


def make_harness(
    *,
    store: MemoryTokenStore | None = None,
    fake: FakeAllegro | None = None,
    time: FakeTime | None = None,
    jitter: Callable[[float], float] | None = None,
    **config: Any,
) -> Harness:
    time = time or FakeTime()
    fake = fake or FakeAllegro()
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
