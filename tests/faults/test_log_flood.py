"""A broker outage must not flood the log: aiokafka retries a dead broker dozens of times a
second, and each retry used to be a line (1 384 in 36 s). One line per cause per interval,
every line JSON. The service's own warnings are not thinned (each says what happened to
which batch): they must be paced by the poll loop's backoff, counted here over the half
minute after the first one (aiokafka reports the first failed send only after its 30 s
request timeout, so none falls in the first window). The test owns its broker
(`own_broker`): the session one is never stopped."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.config import KafkaConfig
from entrypoints.logging_setup import OWN_PACKAGES
from sandbox.allegro import SimulatorConfig, SimulatorServer
from sandbox.kafka_broker import EmbeddedBroker
from tests.faults.harness import InstrumentedState, env_for
from tests.support.process import ServiceProcess, wait_until

# Over a minute (a broker outage ridden out while the log is counted): `make test-extended`.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.extended,
    pytest.mark.timeout(200),
]

OUTAGE_SECONDS = 30.0
MAX_LINES = 30
# The backoff's ceilings double from 1 s (1, 2, 4, 8, 16 s...): about six failed polls in
# the half minute after the first, each one warning line. A warning per retry of
# something that does not back off would exceed this many.
OWN_WINDOW_SECONDS = 30.0
MAX_OWN_LINES = 15


def test_a_broker_outage_logs_a_few_json_lines_not_a_flood(
    own_broker: EmbeddedBroker, own_kafka: KafkaConfig, tmp_path: Path
) -> None:
    state = InstrumentedState(SimulatorConfig(seed=606))
    state.script_mixed_lifecycles(5, seed=606)
    with SimulatorServer(state) as server:
        env = env_for(server, state, own_kafka, tmp_path / "state.db", POLL_INTERVAL_SECONDS="0.5")
        with ServiceProcess(env, "run") as service:
            service.wait_for_log("batch committed", within=30)
            before = len(service.stderr_lines())

            own_broker.stop()
            down_at = time.monotonic()
            for _ in range(3):  # orders keep coming: every poll has something to publish
                state.pay(state.place_order())
            wait_until(
                lambda: time.monotonic() - down_at >= OUTAGE_SECONDS,
                within=OUTAGE_SECONDS + 5,
                what="the outage to last",
                poll=0.5,
            )
            during = service.stderr_lines()[before:]
            still_running = service.running
            first_own = wait_for_own_line(service, before, within=OUTAGE_SECONDS + 30)
            wait_until(
                lambda: time.monotonic() - first_own >= OWN_WINDOW_SECONDS,
                within=OWN_WINDOW_SECONDS + 5,
                what="the half minute after the first own line",
                poll=0.5,
            )
            own_window = service.stderr_lines()[before:]
            service.terminate()
            service.wait_exit(within=15)

    records = [json.loads(line) for line in during]  # every line JSON, or this fails
    by_logger: dict[str, int] = {}
    for record in records:
        by_logger[record["logger"]] = by_logger.get(record["logger"], 0) + 1
    print(f"\nbroker outage of {OUTAGE_SECONDS:.0f} s: {len(records)} log lines {by_logger}")
    ours = [line for line in own_window if ours_at_warning(json.loads(line))]
    print(f"own warnings in the {OWN_WINDOW_SECONDS:.0f} s after the first: {len(ours)}")
    assert still_running
    assert len(records) < MAX_LINES, "\n".join(during)
    assert 0 < len(ours) <= MAX_OWN_LINES, "\n".join(ours)


def ours_at_warning(record: dict[str, Any]) -> bool:
    level = logging.getLevelName(record["level"])
    return record["logger"].split(".")[0] in OWN_PACKAGES and level >= logging.WARNING


def wait_for_own_line(service: ServiceProcess, before: int, within: float) -> float:
    """Waits for the service's first own warning after line `before`; returns when it was
    seen (monotonic time)."""
    wait_until(
        lambda: any(ours_at_warning(r) for r in map(json.loads, service.stderr_lines()[before:])),
        within=within,
        what="the service's first own warning of the outage",
        poll=0.2,
    )
    return time.monotonic()
