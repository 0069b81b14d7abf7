"""One SQLite state file, one writer: `backfill` and `run --once` beside a live service are
refused with the holder's name, a second `run` waits on standby and takes over when the
first one dies, and `status` names the writer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.config import KafkaConfig
from adapters.simulator import SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.process import service_process
from tests.support.service import run_cli, service_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    state = SimulatorState(SimulatorConfig(seed=616))
    state.script_mixed_lifecycles(10, seed=616)
    with SimulatorServer(state) as server:
        yield server


@pytest.fixture
def env(allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path) -> dict[str, str]:
    state = allegro.state
    return service_env(
        allegro.url,
        state.config,
        state.initial_refresh_token,
        kafka_topics,
        tmp_path / "s.db",
        POLL_INTERVAL_SECONDS="0.2",
    )


def writer(env: dict[str, str]) -> dict[str, Any]:
    done = run_cli("status", "--json", env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return dict(report["writer"])


def test_one_shot_commands_are_refused_beside_a_live_service(env: dict[str, str]) -> None:
    since = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    with service_process(env, "run") as service:
        service.wait_for_log("batch committed", within=30)

        shown = writer(env)
        backfill = run_cli("backfill", "--since", since, env=env, timeout=60)
        once = run_cli("run", "--once", env=env, timeout=60)

        assert service.running
        service.terminate()
        assert service.wait_exit(within=20) == 0

    assert shown["holder"].split(":")[1] == str(service.pid)
    assert shown["command"] == "run"
    assert shown["since"] is not None
    for refused in (backfill, once):
        assert refused.returncode == 1, refused.stderr[-2000:]
        assert "another openoms-allegro process writes to" in refused.stderr
        assert f"{shown['holder']} (run)" in refused.stderr
    assert writer(env)["holder"] is None  # released with the service's exit
    done = run_cli("backfill", "--since", since, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_second_service_waits_on_standby_and_takes_over_from_a_killed_one(
    allegro: SimulatorServer, env: dict[str, str]
) -> None:
    with service_process(env, "run") as first:
        first.wait_for_log("batch committed", within=30)
        with service_process(env, "run") as second:
            second.wait_for_log(
                "another process writes to the SQLite state file: waiting until it ends",
                within=30,
            )
            assert second.count("batch committed") == 0
            [waiting] = second.logs_with(
                "another process writes to the SQLite state file: waiting until it ends"
            )
            assert f":{first.pid}:" in waiting["holder"]

            first.kill()
            second.wait_for_log("the state file is free now: this process polls", within=15)
            order = allegro.state.place_order(payment="ONLINE")
            allegro.state.pay(order)
            second.wait_for_log("batch committed", within=30)
            assert f":{second.pid}:" in writer(env)["holder"]
            second.terminate()
            assert second.wait_exit(within=20) == 0
