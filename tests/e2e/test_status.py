"""`openoms-allegro status`: who writes, cursor, lag behind event-stats, token expiry, last
error; and the one writer of a SQLite state file: `backfill` and `run --once` beside a live
service are refused with the holder's name, a second `run` waits on standby and takes over
when the first one dies; and `status` answers within seconds whatever Allegro and the state
store do (issue 12, item 3)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.allegro.probe import PROBE_TIMEOUT_SECONDS
from adapters.kafka.config import KafkaConfig
from application.ports.errors import StateStoreError
from entrypoints.settings import load_settings
from entrypoints.status import STATE_DEADLINE_SECONDS, run_status
from entrypoints.wiring import Wired
from sandbox.allegro import SimulatorServer
from tests.support.process import service_process
from tests.support.service import (
    TEST_KEY,
    run_cli,
    run_once,
    scripted_simulator,
    simulator_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    with scripted_simulator(seed=515, orders=15) as server:
        yield server


@pytest.fixture
def env(allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path) -> dict[str, str]:
    return simulator_env(allegro, kafka_topics, tmp_path / "s.db")


def polling(env: dict[str, str]) -> dict[str, str]:
    return {**env, "POLL_INTERVAL_SECONDS": "0.2"}


def status_json(env: dict[str, str]) -> dict[str, Any]:
    done = run_cli("status", "--json", env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_status_before_anything_ran_says_so(env: dict[str, str], tmp_path: Path) -> None:
    """No state file: one line, nothing created. A state that exists but holds nothing for
    the account yet (here: made by the writer's own open): the report says what is missing."""
    missing = run_cli("status", env=env, timeout=60)
    assert missing.returncode == 1
    assert "no state at" in missing.stderr
    assert not (tmp_path / "s.db").exists()

    asyncio.run(open_writable_state(env))
    done = run_cli("status", env=env, timeout=60)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "writer          none: no process is polling or backfilling this account" in done.stdout
    assert "cursor          none stored" in done.stdout
    assert "token           none stored: run `openoms-allegro auth login`" in done.stdout


async def open_writable_state(env: dict[str, str]) -> None:
    """What `run` does first: opens (so creates and migrates) the state store."""
    settings = load_settings(state_url=env["STATE_URL"], **CREDENTIALS)
    wired = Wired(settings)
    try:
        await wired.state_store()
    finally:
        await wired.shutdown()


CREDENTIALS = {"allegro_client_id": "app", "allegro_client_secret": "secret"}


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


# The on-call tool must answer within this, whatever Allegro does (issue 12, item 3).
ANSWER_WITHIN_SECONDS = 5.0
SUBPROCESS_TIMEOUT = 30  # a generous bound on the subprocess; the assertion is the one above


def timed_status(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = run_cli("status", *args, env=env, timeout=SUBPROCESS_TIMEOUT)
    return time.monotonic() - started, done


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_status_answers_within_seconds_when_allegro_hangs(
    allegro: SimulatorServer, env: dict[str, str]
) -> None:
    summary = run_once(env)
    allegro.state.faults.update({"timeout_rate": 1.0, "hang_seconds": 60})

    seconds, table = timed_status(env)
    json_seconds, as_json = timed_status(env, "--json")

    print(f"status with Allegro hung: {seconds:.2f} s (table), {json_seconds:.2f} s (--json)")
    assert table.returncode == 0, table.stderr[-2000:]
    assert seconds < ANSWER_WITHIN_SECONDS
    assert json_seconds < ANSWER_WITHIN_SECONDS
    no_answer = f"no answer within {PROBE_TIMEOUT_SECONDS:g} s"
    assert f"newest event    unknown: Allegro: {no_answer}" in table.stdout
    assert f"lag             unknown: not measured: Allegro: {no_answer}" in table.stdout
    # What the state store holds is still shown.
    assert f"cursor          {summary['cursor']} (event time " in table.stdout
    assert "token           access token valid until " in table.stdout
    assert "writer          none: no process is polling" in table.stdout
    report = json.loads(as_json.stdout)
    assert report["allegro"]["reached"] is False
    assert report["allegro"]["error"] == no_answer
    assert report["cursor"]["position"] == summary["cursor"]


def test_status_answers_at_once_when_allegro_is_down(env: dict[str, str]) -> None:
    run_once(env)
    down = f"http://127.0.0.1:{closed_port()}"
    unreachable = {**env, "ALLEGRO_API_URL": down, "ALLEGRO_AUTH_URL": f"{down}/auth/oauth"}

    seconds, done = timed_status(unreachable)

    print(f"status with Allegro down: {seconds:.2f} s")
    assert done.returncode == 0, done.stderr[-2000:]
    assert seconds < ANSWER_WITHIN_SECONDS
    assert "newest event    unknown: Allegro: unreachable (connection refused)" in done.stdout
    assert "token           access token valid until " in done.stdout


def test_status_reports_an_error_answer_as_its_one_attempt(
    allegro: SimulatorServer, env: dict[str, str]
) -> None:
    run_once(env)
    allegro.state.clear_request_log()
    allegro.state.faults.next_errors = [503]

    report = status_json(env)

    error = report["allegro"]["error"]
    assert error.startswith("Allegro GET /order/event-stats answered HTTP 503 ("), error
    assert "retr" not in error  # one attempt was made: nothing was retried
    assert report["lag"]["error"] == f"not measured: {error}"
    assert [entry.path for entry in allegro.state.request_log] == ["/order/event-stats"]


def test_status_gives_up_on_a_state_store_that_never_answers(env: dict[str, str]) -> None:
    # A "PostgreSQL" that accepts connections (the kernel completes the handshake for a
    # listening socket) and never says a word: psycopg alone would wait 10 s to connect.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        hung = {**env, "STATE_URL": f"postgresql://postgres@127.0.0.1:{port}/test"}

        seconds, done = timed_status(hung)

    print(f"status with the state store hung: {seconds:.2f} s")
    assert done.returncode == 1
    assert seconds < ANSWER_WITHIN_SECONDS
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line == (
        f"error: StateStoreError: the state store postgresql://postgres@127.0.0.1:{port}/test "
        f"gave no answer within {STATE_DEADLINE_SECONDS:g} s (STATE_URL)"
    )


async def test_status_never_creates_a_state_that_is_not_there(tmp_path: Path) -> None:
    database = tmp_path / "absent" / "state.db"
    settings = load_settings(
        allegro_client_id="app",
        allegro_client_secret="secret",
        allegro_api_url="http://127.0.0.1:9",
        allegro_auth_url="http://127.0.0.1:9/auth/oauth",
        state_url=f"sqlite:///{database}",
        token_encryption_key=TEST_KEY,
    )

    with pytest.raises(StateStoreError, match=r"no state at .*state\.db \(STATE_URL\)"):
        await run_status(settings, as_json=False)

    assert not database.parent.exists()
