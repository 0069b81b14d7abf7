"""After `auth login` the service is polling again within seconds, not after its backoff.

The seller's tokens are revoked while `run` is polling: every poll fails (invalid_grant) and
the loop backs off further each time. Once it is sleeping a long backoff, the operator runs
`auth login` (the real device flow, approved in the simulator); the service must notice the
new tokens in the store and poll again at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorServer
from tests.support.process import ServiceProcess, service_process
from tests.support.service import scripted_simulator, service_env

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

POLL_FAILED = "poll failed, cursor held"
COMMITTED = "batch committed"
# A backoff at least this long is being slept when the login starts: without a wake the
# service could not poll within READY_WITHIN of the login.
LONG_BACKOFF = 15.0
READY_WITHIN = 10.0


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    with scripted_simulator(seed=712, orders=4, device_interval_seconds=1) as server:
        yield server


def user_code(login: ServiceProcess) -> str:
    marker = "check that the page shows the code"

    def shown() -> str | None:
        for line in login.stdout_lines():
            if marker in line:
                return line.split(marker, 1)[1].split()[0]
        return None

    login.wait_for(lambda: shown() is not None, within=20, what="the user code")
    code = shown()
    assert code is not None
    return code


def long_backoff(record: dict[str, Any]) -> bool:
    return record.get("message") == POLL_FAILED and record["retry_in_seconds"] >= LONG_BACKOFF


def test_the_service_polls_again_right_after_auth_login(
    allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    state = allegro.state
    env = service_env(
        allegro.url,
        state.config,
        state.initial_refresh_token,
        kafka_topics,
        tmp_path / "state.db",
        POLL_INTERVAL_SECONDS="0.5",
        ALLEGRO_AUTH_URL=allegro.oauth_url,
    )
    with service_process(env, "run") as service:
        service.wait_for_log(COMMITTED, within=30)
        state.revoke_tokens()
        state.pay(state.place_order())  # waits to be imported once polling works again
        service.wait_for(
            lambda: any(long_backoff(r) for r in service.logs()),
            within=150,
            what=f"a backoff of at least {LONG_BACKOFF} s",
            poll=0.2,
        )
        committed_before = service.count(COMMITTED)

        with service_process(env, "auth", "login") as login:
            state.approve_device(user_code(login))
            assert login.wait_exit(within=20) == 0, login.stderr_tail()
        logged_in = time.monotonic()

        service.wait_for(
            lambda: service.count(COMMITTED) > committed_before,
            within=READY_WITHIN,
            what="a committed batch after the login",
        )
        recovered = time.monotonic() - logged_in
        woken = service.logs_with("waking the poll loop")

    print(f"\npolling again {recovered:.1f} s after `auth login` ended")
    assert recovered < READY_WITHIN
    assert woken, "the recovery watch did not wake the loop"
    assert all(r["reason"] == "new tokens in the store" for r in woken)
