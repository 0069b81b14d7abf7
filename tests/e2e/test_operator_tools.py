"""The operator's tools (issue 12, item 9), through the real CLI against the simulator over
HTTP and the test broker: `cursor show|set|reset`, refused at once while another process
writes the account; `dead-letters list|retry|clear` for an order quarantined by the service
and then fixed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.config import KafkaConfig
from adapters.persistence import PostgresLease, PostgresStateStore, parse_state_url
from adapters.persistence.url import PostgresLocation
from sandbox.allegro import SimulatorServer
from tests.faults.harness import InstrumentedState
from tests.integration.operations.harness import postgres_state_url
from tests.support.kafka_reader import read_topic
from tests.support.process import ServiceProcess
from tests.support.service import run_cli, run_once, scripted_simulator, simulator_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ACCOUNT = "e2e"  # service_env's
REFUSAL_BOUND = 5.0  # seconds: a refusal is at once, not after LEASE_WAIT_SECONDS (60)


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    with scripted_simulator(seed=1209, orders=12, state_type=InstrumentedState) as server:
        yield server


@pytest.fixture
def env(allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path) -> dict[str, str]:
    return simulator_env(allegro, kafka_topics, tmp_path / "state" / "s.db", LOG_LEVEL="INFO")


def cli(*args: str, env: dict[str, str], code: int = 0) -> tuple[str, list[str]]:
    """stdout, and stderr's lines; the exit code must be `code`."""
    done = run_cli(*args, env=env, timeout=60)
    assert done.returncode == code, f"{args} exited {done.returncode}: {done.stderr[-3000:]}"
    return done.stdout, done.stderr.splitlines()


def shown(env: dict[str, str]) -> dict[str, Any]:
    stdout, _ = cli("cursor", "show", "--json", env=env)
    shown: dict[str, Any] = json.loads(stdout)
    return shown


def logged(lines: list[str], message: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return [record for record in records if record.get("message") == message]


def errors(lines: list[str]) -> list[str]:
    """What an operator reads on stderr: the lines that are not JSON log records."""
    return [line for line in lines if not line.startswith("{")]


# --- the cursor -------------------------------------------------------------------------


def test_cursor_show_on_no_state_says_so_and_creates_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    _, stderr = cli("cursor", "show", env=env, code=1)

    assert len(errors(stderr)) == 1
    assert "STATE_URL" in errors(stderr)[0]
    assert not (tmp_path / "state").exists()


def test_cursor_set_and_reset_move_it_and_log_each_move(
    env: dict[str, str], allegro: SimulatorServer
) -> None:
    journal = allegro.state.journal()
    run_once(env)
    assert shown(env)["position"] == journal[-1]["id"]

    stdout, stderr = cli("cursor", "set", journal[2]["id"], env=env)

    assert shown(env)["position"] == journal[2]["id"]
    assert f"{journal[-1]['id']}" in stdout
    text, _ = cli("cursor", "show", env=env)
    assert f"{journal[2]['id']} (event time " in text
    [move] = logged(stderr, "cursor moved")
    assert (move["previous"], move["cursor"], move["command"]) == (
        journal[-1]["id"],
        journal[2]["id"],
        "cursor set",
    )
    assert move["by"]
    # The journal is read again from there: every later event, nothing published twice.
    again = run_once(env)
    assert (again["events"], again["published"]) == (len(journal) - 3, 0)

    cli("cursor", "reset", "--to", "earliest", env=env)
    assert shown(env) | {"event_time": None} == {
        "account": ACCOUNT,
        "stored": True,
        "position": None,
        "event_time": None,
    }
    cli("cursor", "reset", "--to", "latest", env=env)
    assert shown(env)["position"] == journal[-1]["id"]


def test_cursor_reset_to_a_date_goes_to_the_last_event_before_it(
    env: dict[str, str], allegro: SimulatorServer
) -> None:
    run_once(env)  # the scripted lifecycles, all within a few milliseconds
    for _ in range(2):  # later orders, whose events are later than the run that read those
        allegro.state.place_order()
    run_once(env)
    journal = allegro.state.journal()
    times = [datetime.fromisoformat(event["occurredAt"]) for event in journal]
    k = len(journal) - 2  # the first later order's BOUGHT
    assert times[k] > times[k - 1]

    stdout, stderr = cli("cursor", "reset", "--to", times[k].isoformat(), env=env)

    assert shown(env)["position"] == journal[k - 1]["id"]
    assert "moved" in stdout
    [move] = logged(stderr, "cursor moved")
    assert move["command"] == f"cursor reset --to {times[k].isoformat()}"
    assert run_once(env)["events"] == 2  # read again from the date on


def test_a_bad_event_id_or_date_is_one_line_and_moves_nothing(env: dict[str, str]) -> None:
    for args in (("set", "12ab"), ("reset", "--to", "yesterday")):
        _, stderr = cli("cursor", *args, env=env, code=2)
        assert len(stderr) == 1, stderr
        assert "journal event id" in stderr[0] or "ISO date" in stderr[0]


def test_moves_are_refused_at_once_while_the_service_runs(env: dict[str, str]) -> None:
    run_once(env)
    before = shown(env)["position"]
    with ServiceProcess({**env, "POLL_INTERVAL_SECONDS": "0.2"}, "run") as service:
        service.wait_for(
            lambda: any(r.get("role") == "single" for r in service.logs_with("role changed")),
            within=30,
            what="the service to hold the writer lock",
        )
        for args in (
            ("cursor", "set", "1"),
            ("cursor", "reset", "--to", "earliest"),
            ("dead-letters", "retry", "--all"),
            ("dead-letters", "clear", "some-order"),
        ):
            started = time.monotonic()
            _, stderr = cli(*args, env=env, code=1)
            assert time.monotonic() - started < REFUSAL_BOUND + 5  # a process start included
            assert len(errors(stderr)) == 1, stderr
            assert "another openoms-allegro process writes to" in errors(stderr)[0]
        assert shown(env)["position"] == before  # read beside the running service
    assert shown(env)["position"] == before


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with postgres_state_url() as url:
        yield url


async def test_moves_are_refused_at_once_while_a_replica_holds_the_lease(
    env: dict[str, str], postgres_url: str
) -> None:
    location = parse_state_url(postgres_url)
    assert isinstance(location, PostgresLocation)
    async with (
        await PostgresStateStore.open(location),
        await PostgresLease.open(location) as leases,
    ):
        lease = await leases.acquire(ACCOUNT, "replica-a", timedelta(seconds=60))
        assert lease is not None
        pg_env = {**env, "STATE_URL": postgres_url}  # LEASE_WAIT_SECONDS: 60 by default

        started = time.monotonic()
        done = await asyncio.to_thread(run_cli, "cursor", "set", "1", env=pg_env, timeout=60)
        took = time.monotonic() - started

    assert done.returncode == 1, done.stderr[-2000:]
    [line] = errors(done.stderr.splitlines())
    assert "replica-a holds the lease" in line
    assert took < REFUSAL_BOUND + 5  # a process start included; the lease wait is 60 s


# --- dead letters -----------------------------------------------------------------------

UNKNOWN_FULFILLMENT = "TELEPORTED"


def unknown_fulfillment(form: dict[str, Any]) -> dict[str, Any]:
    """Well-formed, but the status mapping has no row for it (tests/faults/test_poison.py)."""
    form["fulfillment"] = {**form["fulfillment"], "status": UNKNOWN_FULFILLMENT}
    return form


def dead_letter_list(env: dict[str, str]) -> dict[str, Any]:
    stdout, _ = cli("dead-letters", "list", "--json", env=env)
    listed: dict[str, Any] = json.loads(stdout)
    return listed


async def test_an_order_quarantined_by_the_service_is_listed_retried_and_imported(
    env: dict[str, str], allegro: SimulatorServer, kafka_topics: KafkaConfig
) -> None:
    state = allegro.state
    assert isinstance(state, InstrumentedState)
    ready = [
        oid
        for oid in state.order_ids()
        if state.checkout_form(oid)["status"] == "READY_FOR_PROCESSING"
    ]
    poisoned, failing = ready[0], ready[1]
    state.poison = {poisoned: unknown_fulfillment, failing: unknown_fulfillment}
    summary = await asyncio.to_thread(run_once, {**env, "DEAD_LETTER_AFTER_ATTEMPTS": "1"})
    assert summary["dead_lettered"] == 2
    state.poison = {failing: unknown_fulfillment}  # one is fixed, the other is not

    listed = dead_letter_list(env)
    table, _ = cli("dead-letters", "list", env=env)

    assert {q["checkout_form_id"] for q in listed["quarantined"]} == {poisoned, failing}
    assert f"  {poisoned}  attempts 1  " in table
    entry = next(q for q in listed["quarantined"] if q["checkout_form_id"] == poisoned)
    assert entry["attempts"] == 1
    assert UNKNOWN_FULFILLMENT in entry["error"]
    assert listed["failing"] == []

    done = await asyncio.to_thread(
        run_cli, "dead-letters", "retry", "--all", env={**env, "DEAD_LETTER_AFTER_ATTEMPTS": "3"}
    )

    assert done.returncode == 1, done.stderr[-2000:]  # one of them still fails
    lines = done.stdout.splitlines()
    assert f"{poisoned}: published 1 event(s)" in lines
    assert any(line.startswith(f"{failing}: still failing (attempt 1 of 3)") for line in lines)
    listed = dead_letter_list(env)
    assert [q["checkout_form_id"] for q in listed["quarantined"]] == [failing]
    assert [(f["checkout_form_id"], f["attempts"]) for f in listed["failing"]] == [(failing, 1)]
    orders = await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    imported = [r for r in orders if r.key == poisoned.encode()]
    assert [r.header("ce_type") for r in imported] == ["openoms.order.imported.v1"]

    stdout, _ = cli("dead-letters", "clear", failing, env=env)

    assert "cleared" in stdout
    assert dead_letter_list(env) == {"account": ACCOUNT, "quarantined": [], "failing": []}


def test_dead_letters_list_on_no_state_creates_nothing(env: dict[str, str], tmp_path: Path) -> None:
    _, stderr = cli("dead-letters", "list", env=env, code=1)

    assert len(errors(stderr)) == 1
    assert not (tmp_path / "state").exists()


def test_retrying_an_id_that_is_no_checkout_form_is_refused_and_counts_nothing(
    env: dict[str, str],
) -> None:
    run_once(env)  # the state exists: a typo must not leave a failure count in it

    for typo in ("12345", "not-an-order", ""):
        _, stderr = cli("dead-letters", "retry", typo, env=env, code=2)

        [line] = errors(stderr)
        assert f"{typo!r} is not a checkout form id" in line
    assert dead_letter_list(env)["failing"] == []
