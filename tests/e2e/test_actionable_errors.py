"""Errors that name the fix: a broker without idempotent producers, a wrong client secret.

Each runs the real CLI (`run --once`) against the simulator and the test broker; the
operator's line is the one stderr line that is not a JSON log record."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorServer
from tests.support.service import run_cli, scripted_simulator, simulator_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

BOUND_SECONDS = 30


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    with scripted_simulator(seed=412, orders=3) as server:
        yield server


def env_for(
    allegro: SimulatorServer, kafka: KafkaConfig, tmp: Path, **extra: str
) -> dict[str, str]:
    return simulator_env(allegro, kafka, tmp / "s.db", **extra)


def operator_lines(stderr: str) -> list[str]:
    """The lines meant for a person: everything that is not a JSON log record."""
    lines = []
    for line in stderr.strip().splitlines():
        try:
            json.loads(line)
        except ValueError:
            lines.append(line)
    return lines


def run_once_failing(env: dict[str, str]) -> tuple[list[str], float]:
    started = time.monotonic()
    done = run_cli("run", "--once", env=env, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return operator_lines(done.stderr), elapsed


def test_idempotence_on_a_broker_without_it_says_what_to_set(
    allegro: SimulatorServer,
    kafka_topics: KafkaConfig,
    kafka_supports_idempotence: bool,
    tmp_path: Path,
) -> None:
    if kafka_supports_idempotence:
        pytest.skip("the test broker supports idempotent producers")
    kafka = dataclasses.replace(kafka_topics, enable_idempotence=True)

    lines, elapsed = run_once_failing(env_for(allegro, kafka, tmp_path))

    assert len(lines) == 1, lines
    assert lines[0].startswith("error: PublishError: ")
    assert lines[0].endswith(
        "the broker does not support idempotent producers: set KAFKA_ENABLE_IDEMPOTENCE=false"
    )
    assert elapsed < BOUND_SECONDS


def test_a_wrong_client_secret_names_the_client_variables(
    allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    env = env_for(allegro, kafka_topics, tmp_path, ALLEGRO_CLIENT_SECRET="not-the-secret")

    lines, elapsed = run_once_failing(env)

    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ClientRejected: ")
    assert "ALLEGRO_CLIENT_ID and ALLEGRO_CLIENT_SECRET" in lines[0]
    assert "auth login" not in lines[0]
    assert "not-the-secret" not in lines[0]
    assert elapsed < BOUND_SECONDS


def test_a_revoked_refresh_token_still_asks_for_a_login(
    allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    allegro.state.revoke_tokens()

    lines, _ = run_once_failing(env_for(allegro, kafka_topics, tmp_path))

    assert len(lines) == 1, lines
    assert "invalid_grant" in lines[0]
    assert "auth login" in lines[0]
    assert "ALLEGRO_CLIENT_SECRET" not in lines[0]


def test_auth_login_with_a_wrong_client_secret_names_the_client_variables(
    allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    env = env_for(
        allegro,
        kafka_topics,
        tmp_path,
        ALLEGRO_AUTH_URL=allegro.oauth_url,
        ALLEGRO_CLIENT_SECRET="not-the-secret",
    )

    started = time.monotonic()
    done = run_cli("auth", "login", env=env, timeout=60)
    elapsed = time.monotonic() - started

    lines = operator_lines(done.stderr)
    assert done.returncode == 1, done.stderr[-3000:]
    assert len(lines) == 1, lines
    assert "ALLEGRO_CLIENT_ID and ALLEGRO_CLIENT_SECRET" in lines[0]
    assert "not-the-secret" not in done.stderr + done.stdout
    assert elapsed < BOUND_SECONDS
