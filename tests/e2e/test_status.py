"""`openoms-allegro status`: who writes, cursor, lag behind event-stats, token expiry, last
error; and the one writer of a SQLite state file: `backfill` and `run --once` beside a live
service are refused with the holder's name, a second `run` waits on standby and takes over
when the first one dies."""

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
from tests.support.service import run_cli, run_once, service_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    state = SimulatorState(SimulatorConfig(seed=515))
    state.script_mixed_lifecycles(15, seed=515)
    with SimulatorServer(state) as server:
        yield server


@pytest.fixture
def env(allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path) -> dict[str, str]:
    state = allegro.state
    return service_env(
        allegro.url, state.config, state.initial_refresh_token, kafka_topics, tmp_path / "s.db"
    )


def polling(env: dict[str, str]) -> dict[str, str]:
    return {**env, "POLL_INTERVAL_SECONDS": "0.2"}


def status_json(env: dict[str, str]) -> dict[str, Any]:
    done = run_cli("status", "--json", env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_status_before_anything_ran_says_so(env: dict[str, str]) -> None:
    done = run_cli("status", env=env, timeout=60)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "writer          none: no process is polling or backfilling this account" in done.stdout
    assert "cursor          none stored" in done.stdout
    assert "token           none stored: run `openoms-allegro auth login`" in done.stdout


def test_status_after_an_import_shows_the_cursor_caught_up(
    allegro: SimulatorServer, env: dict[str, str]
) -> None:
    summary = run_once(env)
    requests_before = len(allegro.state.request_log)

    table = run_cli("status", env=env, timeout=60)
    report = status_json(env)

    cursor = summary["cursor"]
    assert table.returncode == 0, table.stderr[-2000:]
    assert f"cursor          {cursor} (event time " in table.stdout
    assert "lag             0 events, 0.0 s of event time" in table.stdout
    assert "token           access token valid until " in table.stdout
    assert "last error      none recorded" in table.stdout
    assert report["cursor"]["position"] == cursor
    assert report["lag"] == {
        "latest_event_id": cursor,
        "seconds": 0.0,
        "events": 0,
        "events_capped": False,
        "error": None,
    }
    assert 43_000 < report["token"]["expires_in_seconds"] <= 43_199
    assert report["last_error"] is None
    assert report["failing_orders"] == []
    calls = [entry for entry in allegro.state.request_log[requests_before:]]
    assert {entry.path for entry in calls} == {"/order/event-stats"}  # and no token refresh


def test_status_shows_the_last_poll_error_after_the_service_recovered(
    allegro: SimulatorServer, env: dict[str, str]
) -> None:
    state = allegro.state
    with service_process(polling(env), "run") as service:
        service.wait_for_log("batch committed", within=30)
        state.faults.next_errors = [403]
        service.wait_for_log("poll failed, cursor held", within=30)
        order = state.place_order(payment="ONLINE")
        state.pay(order)
        service.wait_for_log("batch committed", count=2, within=30)
        service.terminate()
        assert service.wait_exit(within=20) == 0

    report = status_json(env)

    error = report["last_error"]
    assert error is not None
    assert error["message"].startswith("AllegroRejected: ")
    assert "403" in error["message"]
    assert report["lag"]["events"] == 0


def writer(env: dict[str, str]) -> dict[str, Any]:
    return dict(status_json(env)["writer"])


def test_one_shot_commands_are_refused_beside_a_live_service(env: dict[str, str]) -> None:
    since = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    with service_process(polling(env), "run") as service:
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
    with service_process(polling(env), "run") as first:
        first.wait_for_log("batch committed", within=30)
        with service_process(polling(env), "run") as second:
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


def test_a_one_shot_command_may_be_the_first_writer_of_a_new_state_directory(
    env: dict[str, str], tmp_path: Path
) -> None:
    database = tmp_path / "new" / "state" / "s.db"

    summary = run_once({**env, "STATE_URL": f"sqlite:///{database}"})

    assert summary["published"] > 0
    assert database.exists()
    assert database.with_name("s.db.lock").exists()
