"""The command path in `/readyz`: reported under `degraded` with its last error while it
fails, never a reason to be unready (entrypoints/health.py, docs/operations.md "Commands")."""

from __future__ import annotations

from datetime import timedelta

import httpx

from application.command_loop import CommandStatus
from application.poll_loop import LoopStatus
from application.ports.state import TokenPair
from entrypoints.health import (
    ERROR_SHOWN_CHARS,
    HealthChecks,
    Role,
    ServiceState,
    register_commands,
)
from entrypoints.http import HttpEndpoint, create_app
from entrypoints.metrics import Metrics
from tests.support.fakes import FakeClock, MemoryStateStore, MemoryTokenStore

ACCOUNT = "shop"
HEALTHY = {"broker": True, "state_store": True, "token": True, "polling": True}


class Replica:
    """A healthy polling replica whose command path is watched as `Runtime.open` does."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.clock = FakeClock()
        self.service = ServiceState()
        self.service.become(Role.SINGLE, self.clock.now())
        tokens = MemoryTokenStore()
        tokens.pairs[ACCOUNT] = TokenPair("acc", "ref", self.clock.now() + timedelta(hours=1))
        self.commands = CommandStatus()
        self.metrics = Metrics()
        self.checks = HealthChecks(
            account=ACCOUNT,
            service=self.service,
            loop=LoopStatus(),
            state_store=MemoryStateStore(),
            token_store=tokens,
            broker=_up,
            clock=self.clock,
            stale_after=timedelta(minutes=10),
        )
        register_commands(
            self.metrics, self.checks, self.service, self.commands, ACCOUNT, enabled=enabled
        )

    def failing(self, rounds: int, error: str) -> None:
        self.commands.consecutive_failures, self.commands.last_error = rounds, error


async def _up() -> bool:
    return True


async def test_a_working_command_path_leaves_the_body_as_it_was() -> None:
    replica = Replica()

    report = await replica.checks.readiness()

    assert report.body() == {"ready": True, "role": "single", "checks": HEALTHY}


async def test_a_failing_command_path_is_degraded_with_its_last_error_and_stays_ready() -> None:
    replica = Replica()
    replica.failing(3, "AllegroUnavailable: HTTP 503")

    report = await replica.checks.readiness()

    assert report.ready
    assert report.body() == {
        "ready": True,
        "role": "single",
        "checks": HEALTHY,
        "degraded": {
            "commands": "3 round(s) failed in a row, the last: AllegroUnavailable: HTTP 503"
        },
    }


async def test_degraded_ends_with_the_next_success() -> None:
    replica = Replica()
    replica.failing(1, "ConsumeError: reading the command topic: broker gone")
    assert "degraded" in (await replica.checks.readiness()).body()

    replica.commands.consecutive_failures = 0  # what the loop does after a record succeeds

    assert "degraded" not in (await replica.checks.readiness()).body()


async def test_a_long_error_is_cut_to_a_bounded_length() -> None:
    replica = Replica()
    replica.failing(1, "PublishError: " + "x" * 5000)

    shown = (await replica.checks.readiness()).degraded["commands"]

    error = shown.split("the last: ", 1)[1]
    assert len(error) == ERROR_SHOWN_CHARS
    assert error.endswith("...")


async def test_a_standby_applies_no_commands_so_it_is_not_degraded_by_its_last_term() -> None:
    replica = Replica()
    replica.failing(4, "AllegroUnavailable: HTTP 503")

    replica.service.become(Role.STANDBY, replica.clock.now())

    report = await replica.checks.readiness()
    assert report.ready
    assert report.degraded == {}


async def test_with_commands_off_readiness_never_mentions_them() -> None:
    replica = Replica(enabled=False)
    replica.failing(2, "AllegroUnavailable: HTTP 503")

    assert (await replica.checks.readiness()).body() == {
        "ready": True,
        "role": "single",
        "checks": HEALTHY,
    }


async def test_readyz_answers_200_with_the_degraded_command_path_over_http() -> None:
    replica = Replica()
    replica.failing(2, "AllegroUnavailable: HTTP 503")
    app = create_app(replica.metrics, replica.checks.readiness, readiness_ttl_seconds=0)
    endpoint = HttpEndpoint(app, "127.0.0.1", 0)
    await endpoint.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{endpoint.port}", timeout=5
        ) as client:
            answer = await client.get("/readyz")
    finally:
        await endpoint.stop()

    assert answer.status_code == 200
    assert answer.json()["degraded"]["commands"].startswith("2 round(s) failed in a row")
