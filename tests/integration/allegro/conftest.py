"""The Allegro adapter against the simulator over real HTTP, on one shared manual clock.

The simulator and the client read the same `ManualClock`, and the client's `sleep` advances
it: backoff, 429 blocks, token expiry and the token bucket take no real time, and the
simulator's rate limiter judges the client's pace exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.allegro import AllegroClient, AllegroClientConfig, build_allegro_client
from sandbox.allegro import ManualClock, SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.fakes import MemoryTokenStore

__all__ = ["MemoryTokenStore", "Sandbox", "SandboxFactory", "SharedTime", "SkewedTime"]


@dataclass
class SharedTime:
    clock: ManualClock
    sleeps: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.wall(), UTC)

    def monotonic(self) -> float:
        return self.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class SkewedTime(SharedTime):
    """Another process whose wall clock runs `skew` seconds ahead."""

    skew: float = 0.0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.wall() + self.skew, UTC)


@dataclass
class Sandbox:
    state: SimulatorState
    server: SimulatorServer
    time: SharedTime

    def config(self, **overrides: Any) -> AllegroClientConfig:
        values: dict[str, Any] = {
            "api_url": self.server.url,
            "auth_url": self.server.oauth_url,
            "client_id": self.state.config.client_id,
            "client_secret": self.state.config.client_secret,
            "initial_refresh_token": self.state.initial_refresh_token,
            **overrides,
        }
        return AllegroClientConfig(**values)

    def client(
        self,
        store: MemoryTokenStore | None = None,
        *,
        time: SharedTime | None = None,
        **overrides: Any,
    ) -> AllegroClient:
        time = time or self.time
        return build_allegro_client(
            self.config(**overrides),
            store if store is not None else MemoryTokenStore(),
            clock=time,
            monotonic=time.monotonic,
            sleep=time.sleep,
            jitter=lambda ceiling: ceiling,
        )


SandboxFactory = Callable[..., Sandbox]


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    servers: list[SimulatorServer] = []

    def start(**config: Any) -> Sandbox:
        clock = ManualClock()
        state = SimulatorState(SimulatorConfig(**config), clock=clock)
        server = SimulatorServer(state)
        server.start()
        servers.append(server)
        return Sandbox(state, server, SharedTime(clock))

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> Sandbox:
    return sandbox_factory()
