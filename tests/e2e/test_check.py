"""`openoms-allegro check`, the pre-flight check (issue 12, item 8), against the simulator and
the test broker: one line per dependency, exit 0 only when all pass, 1 when one fails, 2 for
bad configuration; each failure bounded to a few seconds and named on its own line."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.allegro.probe import PROBE_TIMEOUT_SECONDS
from adapters.kafka.config import KafkaConfig, connection_options
from adapters.persistence import POSTGRES_MIGRATIONS
from application.ports.state import TokenPair, TokenStore
from entrypoints.settings import load_settings
from entrypoints.wiring import Wired
from sandbox.allegro import SimulatorServer
from tests.integration.operations.harness import postgres_state_url
from tests.support.service import run_cli, run_once, scripted_simulator, simulator_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ANSWER_WITHIN_SECONDS = 5.0  # issue 12: `check` answers within 5 s with Allegro hung
SUBPROCESS_TIMEOUT = 30  # a generous bound on the subprocess; the assertions are tighter
NAMES = ["configuration", "state store", "tokens", "allegro", "kafka"]


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    with scripted_simulator(seed=812, orders=5) as server:
        yield server


@pytest.fixture
def env(allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path) -> dict[str, str]:
    return simulator_env(allegro, kafka_topics, tmp_path / "s.db")


@pytest.fixture
def imported(env: dict[str, str]) -> dict[str, Any]:
    """The state after one `run --once`: tokens stored, a cursor committed."""
    return run_once(env)


def check(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = run_cli("check", *args, env=env, timeout=SUBPROCESS_TIMEOUT)
    return time.monotonic() - started, done


def lines_of(done: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """name -> (status, detail), from the table."""
    found = {}
    for line in done.stdout.splitlines():
        status, rest = line[:4].strip(), line[5:]
        name = next(n for n in NAMES if rest.startswith(n))
        found[name] = (status, rest[len(name) :].strip())
    assert list(found) == NAMES, done.stdout
    return found


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def only_failure(done: subprocess.CompletedProcess[str], name: str) -> str:
    """The detail of the one failing line, which must be `name`'s."""
    assert done.returncode == 1, (done.stdout, done.stderr[-2000:])
    lines = lines_of(done)
    failing = {n: detail for n, (status, detail) in lines.items() if status != "ok"}
    assert list(failing) == [name], done.stdout
    return failing[name]


def test_every_dependency_passes_against_the_simulator_and_the_broker(
    env: dict[str, str], imported: dict[str, Any], kafka_topics: KafkaConfig
) -> None:
    seconds, done = check(env)

    print(f"check, all passing: {seconds:.2f} s")
    assert done.returncode == 0, (done.stdout, done.stderr[-2000:])
    lines = lines_of(done)
    assert {status for status, _ in lines.values()} == {"ok"}
    assert f"cursor {imported['cursor']})" in lines["state store"][1]
    assert "decrypted with TOKEN_ENCRYPTION_KEY" in lines["tokens"][1]
    assert "client credentials accepted" in lines["allegro"][1]
    assert f"(newest event {imported['cursor']})" in lines["allegro"][1]
    assert f"topics {kafka_topics.topic_orders} (" in lines["kafka"][1]
    assert kafka_topics.topic_dlq in lines["kafka"][1]


def test_json_carries_one_entry_per_dependency(
    env: dict[str, str], imported: dict[str, Any]
) -> None:
    _, done = check(env, "--json")

    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert [entry["name"] for entry in report["checks"]] == NAMES
    assert {entry["status"] for entry in report["checks"]} == {"ok"}


def test_allegro_hung_fails_its_line_within_seconds(
    allegro: SimulatorServer, env: dict[str, str], imported: dict[str, Any]
) -> None:
    allegro.state.faults.update({"timeout_rate": 1.0, "hang_seconds": 60})

    seconds, done = check(env)

    print(f"check with Allegro hung: {seconds:.2f} s")
    assert seconds < ANSWER_WITHIN_SECONDS
    detail = only_failure(done, "allegro")
    assert detail.endswith(
        f"client credentials accepted; GET /order/event-stats: "
        f"no answer within {PROBE_TIMEOUT_SECONDS:g} s"
    )


def test_an_error_answer_is_reported_as_its_one_attempt(
    allegro: SimulatorServer, env: dict[str, str], imported: dict[str, Any]
) -> None:
    allegro.state.faults.next_errors = [503]

    _, done = check(env)

    detail = only_failure(done, "allegro")
    assert "client credentials accepted; Allegro GET /order/event-stats answered HTTP 503 (" in (
        detail
    )
    assert "retr" not in detail  # one attempt was made: nothing was retried


def test_allegro_down_fails_its_line_at_once(env: dict[str, str], imported: dict[str, Any]) -> None:
    down = f"http://127.0.0.1:{closed_port()}"

    seconds, done = check(
        {**env, "ALLEGRO_API_URL": down, "ALLEGRO_AUTH_URL": f"{down}/auth/oauth"}
    )

    print(f"check with Allegro down: {seconds:.2f} s")
    assert seconds < ANSWER_WITHIN_SECONDS
    detail = only_failure(done, "allegro")
    assert detail == f"token endpoint {down}/auth/oauth/token: unreachable (connection refused)"


def test_a_wrong_client_secret_is_named_as_such(
    env: dict[str, str], imported: dict[str, Any]
) -> None:
    _, done = check({**env, "ALLEGRO_CLIENT_SECRET": "not-the-secret"})

    detail = only_failure(done, "allegro")
    assert "(invalid_client); check ALLEGRO_CLIENT_ID and ALLEGRO_CLIENT_SECRET" in detail


def test_kafka_unreachable_fails_its_line_within_seconds(
    env: dict[str, str], imported: dict[str, Any]
) -> None:
    servers = f"127.0.0.1:{closed_port()}"

    seconds, done = check({**env, "KAFKA_BOOTSTRAP_SERVERS": servers})

    print(f"check with Kafka down: {seconds:.2f} s")
    assert seconds < ANSWER_WITHIN_SECONDS
    detail = only_failure(done, "kafka")
    assert detail.startswith(f"unreachable: no broker of {servers} answered")


def test_a_missing_topic_is_named_and_not_created(
    env: dict[str, str], imported: dict[str, Any], kafka_topics: KafkaConfig
) -> None:
    missing = f"test.missing.{uuid.uuid4().hex[:12]}"

    _, done = check({**env, "KAFKA_TOPIC_ORDERS": missing})

    detail = only_failure(done, "kafka")
    assert detail.startswith(f"topic {missing} does not exist: create it")
    assert missing not in asyncio.run(topic_names(kafka_topics))


async def topic_names(config: KafkaConfig) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**connection_options(config))
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def test_no_tokens_for_the_account_fails_the_tokens_line(
    env: dict[str, str], imported: dict[str, Any]
) -> None:
    other = {k: v for k, v in env.items() if k != "ALLEGRO_REFRESH_TOKEN"}

    _, done = check({**other, "ALLEGRO_ACCOUNT": "another-shop"})

    assert done.returncode == 1
    lines = lines_of(done)
    assert lines["tokens"] == (
        "FAIL",
        "no tokens stored for account 'another-shop': run `openoms-allegro auth login` "
        "(or set ALLEGRO_REFRESH_TOKEN)",
    )
    assert lines["allegro"][0] == "ok"  # the client credentials still prove the app


def test_a_wrong_encryption_key_fails_the_tokens_line(
    env: dict[str, str], imported: dict[str, Any]
) -> None:
    other_key = base64.urlsafe_b64encode(b"another-key-of-exactly-32-bytes!").decode()

    _, done = check({**env, "TOKEN_ENCRYPTION_KEY": other_key})

    assert done.returncode == 1
    lines = lines_of(done)
    assert lines["tokens"][0] == "FAIL"
    assert "cannot be decrypted with TOKEN_ENCRYPTION_KEY" in lines["tokens"][1]


def test_a_missing_state_fails_its_line_and_creates_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    database = tmp_path / "nothing-here" / "state.db"

    _, done = check({**env, "STATE_URL": f"sqlite:///{database}"})

    assert done.returncode == 1
    lines = lines_of(done)
    assert lines["state store"][0] == "FAIL"
    assert f"no state at {database} (STATE_URL)" in lines["state store"][1]
    assert lines["tokens"][0] == "SKIP"
    assert not database.parent.exists()


def test_a_broker_without_idempotent_producers_says_what_to_set(
    env: dict[str, str], imported: dict[str, Any], kafka_supports_idempotence: bool
) -> None:
    if kafka_supports_idempotence:
        pytest.skip("this broker hands out producer ids")

    _, done = check({**env, "KAFKA_ENABLE_IDEMPOTENCE": "true"})

    detail = only_failure(done, "kafka")
    assert "set KAFKA_ENABLE_IDEMPOTENCE=false" in detail


def test_bad_configuration_is_one_line_and_exit_2(env: dict[str, str]) -> None:
    unset = {k: v for k, v in env.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}

    _, done = check(unset)

    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert "KAFKA_BOOTSTRAP_SERVERS" in line


async def store_expired_access_token(env: dict[str, str]) -> TokenPair:
    """Rewrites the stored pair with an access token that expired an hour ago."""
    settings = load_settings(**settings_overrides(env))
    wired = Wired(settings)
    try:
        tokens: TokenStore = await wired.token_store()
        pair = await tokens.load(settings.allegro_account)
        assert pair is not None
        expired = dataclasses.replace(pair, expires_at=datetime.now(UTC) - timedelta(hours=1))
        await tokens.save(settings.allegro_account, expired)
        return expired
    finally:
        await wired.shutdown()


async def stored_pair(env: dict[str, str]) -> TokenPair | None:
    settings = load_settings(**settings_overrides(env))
    wired = Wired(settings, read_only=True)
    try:
        tokens: TokenStore = await wired.token_store()
        return await tokens.load(settings.allegro_account)
    finally:
        await wired.shutdown()


def settings_overrides(env: dict[str, str]) -> dict[str, object]:
    names = (
        "ALLEGRO_API_URL",
        "ALLEGRO_AUTH_URL",
        "ALLEGRO_CLIENT_ID",
        "ALLEGRO_CLIENT_SECRET",
        "ALLEGRO_ACCOUNT",
        "STATE_URL",
        "TOKEN_ENCRYPTION_KEY",
    )
    return {name.lower(): env[name] for name in names}


def test_an_expired_access_token_is_reported_and_never_refreshed(
    allegro: SimulatorServer, env: dict[str, str], imported: dict[str, Any]
) -> None:
    # Refresh tokens are single-use: a check that refreshed would rotate the service's pair.
    expired = asyncio.run(store_expired_access_token(env))
    allegro.state.clear_request_log()

    _, done = check(env)

    assert done.returncode == 0, (done.stdout, done.stderr[-2000:])
    detail = lines_of(done)["allegro"][1]
    assert "so no call was made with it: the service refreshes it at its next poll" in detail
    assert asyncio.run(stored_pair(env)) == expired  # nothing rotated, nothing saved
    assert {entry.path for entry in allegro.state.request_log} == {"/auth/oauth/token"}


def test_a_broker_that_never_answers_fails_its_line_within_seconds(
    env: dict[str, str], imported: dict[str, Any]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never says a word
        servers = f"127.0.0.1:{silent.getsockname()[1]}"

        seconds, done = check({**env, "KAFKA_BOOTSTRAP_SERVERS": servers})

    print(f"check with Kafka hung: {seconds:.2f} s")
    assert seconds < ANSWER_WITHIN_SECONDS
    detail = only_failure(done, "kafka")
    # aiokafka gives up on the silent broker after the probe's request timeout.
    assert detail == f"unreachable: no broker of {servers} answered (KafkaConnectionError)"


async def test_every_dependency_passes_with_a_postgresql_state_store(
    env: dict[str, str],
) -> None:
    async with postgres_state_url() as url:
        on_postgres = {**env, "STATE_URL": url}
        summary = await asyncio.to_thread(run_once, on_postgres)

        _, done = await asyncio.to_thread(check, on_postgres)

    assert done.returncode == 0, (done.stdout, done.stderr[-2000:])
    status, detail = lines_of(done)["state store"]
    assert status == "ok"
    assert f"(schema version {len(POSTGRES_MIGRATIONS)}, cursor {summary['cursor']})" in detail
