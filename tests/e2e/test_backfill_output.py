"""`openoms-allegro backfill ... | jq`: stdout carries the JSON summary alone, the progress
bar goes to stderr."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.service import run_cli, service_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_stdout_is_exactly_one_json_document(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    state = SimulatorState(SimulatorConfig(seed=12))
    state.script_mixed_lifecycles(25, seed=12)
    since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    with SimulatorServer(state) as server:
        env = service_env(
            server.url,
            state.config,
            state.initial_refresh_token,
            kafka_topics,
            tmp_path / "state.db",
        )
        done = run_cli("backfill", "--since", since, env=env, timeout=90)

    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)  # the whole of stdout, as `jq` reads it
    assert isinstance(summary, dict)
    assert summary["orders"] > 0
    assert "checkout forms" in done.stderr  # the progress bar, where a pipe does not see it
