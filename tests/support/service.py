"""Run the real CLI as a separate process against the simulator and the test broker."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from sandbox.kafka_broker import die_with_parent
from tests.support.process import CLI, cwd_for

TEST_KEY = base64.urlsafe_b64encode(b"openoms-allegro-test-key-32bytes").decode()


def service_env(
    api_url: str,
    sim: SimulatorConfig,
    refresh_token: str,
    kafka: KafkaConfig,
    state_db: Path,
    **overrides: str,
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ALLEGRO_", "KAFKA_", "STATE_", "TOKEN_"))
    }
    env.update(
        {
            "ALLEGRO_API_URL": api_url,
            "ALLEGRO_AUTH_URL": f"{api_url}/auth/oauth",
            "ALLEGRO_CLIENT_ID": sim.client_id,
            "ALLEGRO_CLIENT_SECRET": sim.client_secret,
            "ALLEGRO_REFRESH_TOKEN": refresh_token,
            "ALLEGRO_ACCOUNT": "e2e",
            "ALLEGRO_START_FROM": "earliest",
            "ALLEGRO_RATE_LIMIT_PER_MINUTE": "6000",
            "ALLEGRO_RATE_LIMIT_BURST": "50",
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "KAFKA_ENABLE_IDEMPOTENCE": "true" if kafka.enable_idempotence else "false",
            "KAFKA_TOPIC_ORDERS": kafka.topic_orders,
            "KAFKA_TOPIC_DLQ": kafka.topic_dlq,
            "KAFKA_TOPIC_COMMANDS": kafka.topic_commands,
            "KAFKA_TOPIC_COMMAND_RESULTS": kafka.topic_command_results,
            "KAFKA_TOPIC_OFFER_COMMANDS": kafka.topic_offer_commands,
            "KAFKA_TOPIC_OFFERS": kafka.topic_offers,
            "STATE_URL": f"sqlite:///{state_db}",
            "TOKEN_ENCRYPTION_KEY": TEST_KEY,
            "HTTP_PORT": "0",
            "LOG_FORMAT": "json",
        }
    )
    env.update(overrides)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 120, module: str = CLI
) -> subprocess.CompletedProcess[str]:
    """`python -m entrypoints.cli <args>`, or `module` (e.g. process.FAILPOINT_CLI)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=cwd_for(module),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=die_with_parent(),  # a killed test run leaves no CLI behind
    )


def run_once(env: dict[str, str]) -> dict[str, Any]:
    """`openoms-allegro run --once`; returns its JSON summary, failing loudly otherwise."""
    done = run_cli("run", "--once", env=env)
    assert done.returncode == 0, f"run --once exited {done.returncode}: {done.stderr[-3000:]}"
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


@contextmanager
def scripted_simulator(
    seed: int, orders: int, state_type: type[SimulatorState] = SimulatorState, **config: Any
) -> Iterator[SimulatorServer]:
    """The simulator over real HTTP on loopback, `orders` mixed lifecycles scripted first."""
    state = state_type(SimulatorConfig(seed=seed, **config))
    state.script_mixed_lifecycles(orders, seed=seed)
    with SimulatorServer(state) as server:
        yield server


def simulator_env(
    server: SimulatorServer, kafka: KafkaConfig, state_db: Path, **overrides: str
) -> dict[str, str]:
    """`service_env` for `server`, with the refresh token it was started with."""
    state = server.state
    return service_env(
        server.url, state.config, state.initial_refresh_token, kafka, state_db, **overrides
    )
