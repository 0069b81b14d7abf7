"""A broker outage must not flood the log: aiokafka retries a dead broker dozens of times a
second, and each retry used to be a line (1 384 in 36 s). One line per cause per interval,
every line JSON. The test owns its broker: the session one is never stopped."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.kafka.admin import ensure_topics
from adapters.kafka.config import KafkaConfig
from adapters.kafka.embedded import EmbeddedBroker, EmbeddedBrokerUnavailable
from adapters.simulator import SimulatorConfig, SimulatorServer
from tests.faults.harness import InstrumentedState, env_for
from tests.support.process import ServiceProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]

OUTAGE_SECONDS = 30.0
MAX_LINES = 30


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    try:
        broker = EmbeddedBroker().start()
    except EmbeddedBrokerUnavailable as exc:
        pytest.skip(f"no embedded broker: {exc}")
    try:
        yield broker
    finally:
        broker.stop()


def test_a_broker_outage_logs_a_few_json_lines_not_a_flood(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    kafka = KafkaConfig(
        bootstrap_servers=own_broker.bootstrap_servers,
        topic_orders="flood.orders",
        topic_dlq="flood.orders.dlq",
        enable_idempotence=False,  # tansu rejects InitProducerId
    )
    asyncio.run(ensure_topics(kafka))
    state = InstrumentedState(SimulatorConfig(seed=606))
    state.script_mixed_lifecycles(5, seed=606)
    with SimulatorServer(state) as server:
        env = env_for(server, state, kafka, tmp_path / "state.db", POLL_INTERVAL_SECONDS="0.5")
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
            service.terminate()
            service.wait_exit(within=15)

    records = [json.loads(line) for line in during]  # every line JSON, or this fails
    by_logger: dict[str, int] = {}
    for record in records:
        by_logger[record["logger"]] = by_logger.get(record["logger"], 0) + 1
    print(f"\nbroker outage of {OUTAGE_SECONDS:.0f} s: {len(records)} log lines {by_logger}")
    assert still_running
    assert len(records) < MAX_LINES, "\n".join(during)
