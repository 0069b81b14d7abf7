"""The broker goes away mid-stream and comes back on the same port: the service keeps
running, holds its cursor, and publishes what was never acknowledged plus everything that
happened meanwhile.

The embedded broker (tansu) keeps its data in memory: after the restart the topic starts
empty. So the test freezes the service (SIGSTOP) around the moment the broker stops: a
batch it had in flight can then never be acknowledged to it, whatever reached the old
broker, and must be published again to the new one. Orders placed while the broker is down
must appear once it is back. The test owns its broker: the session one is never stopped.

The restarted broker has no topics. Tansu acknowledges a produce request to a topic or
partition it does not have *without storing it* (a real Kafka broker answers
UNKNOWN_TOPIC_OR_PARTITION, and the producer refreshes its metadata and retries), so the
test re-creates the topics, as an operator's provisioning would, while the service is
frozen again: otherwise the producer, with its metadata from before the outage, would be
"acknowledged" into the void and the test would measure tansu, not the service.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from adapters.kafka.admin import ensure_topics
from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer
from sandbox.kafka_broker import EmbeddedBroker
from tests.faults.harness import ACCOUNT, InstrumentedState, elapsed_since, env_for
from tests.support.expectations import quiescent_event_ids
from tests.support.kafka_reader import ConsumedRecord, read_topic
from tests.support.process import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POLL_FAILED = "poll failed, cursor held"
COMMITTED = "batch committed"
# aiokafka gives up on an unreachable broker after its request timeout (30 s by default,
# not configurable through the environment), so noticing the outage takes about that long.
NOTICE_OUTAGE_WITHIN = 60.0


def place_paid(state: InstrumentedState, count: int) -> list[str]:
    placed = []
    for _ in range(count):
        order_id = state.place_order()
        state.pay(order_id)
        placed.append(order_id)
    return placed


def read_all(kafka: KafkaConfig, within: float = 10.0) -> list[ConsumedRecord]:
    return asyncio.run(read_topic(kafka.bootstrap_servers, kafka.topic_orders, within=within))


def published_ids(kafka: KafkaConfig) -> set[str]:
    """What the topic holds now; nothing while the restarted broker has no topic yet."""
    try:
        return {r.header("ce_id") for r in read_all(kafka, within=2.0)}
    except TimeoutError:
        return set()


def test_the_service_rides_out_a_broker_outage(
    own_broker: EmbeddedBroker, own_kafka: KafkaConfig, tmp_path: Path
) -> None:
    started = time.monotonic()
    state = InstrumentedState(SimulatorConfig(seed=503))
    state.script_mixed_lifecycles(30, seed=503)
    with SimulatorServer(state) as server:
        env = env_for(server, state, own_kafka, tmp_path / "state.db", BATCH_SIZE="20")
        with ServiceProcess(env, "run") as service:

            def ids_for(order_ids: list[str] | None = None) -> set[str]:
                wanted = quiescent_event_ids(state, ACCOUNT)
                return {ce for ce, oid in wanted.items() if order_ids is None or oid in order_ids}

            def on_topic(ids: set[str]) -> bool:
                return ids <= published_ids(own_kafka)

            before = ids_for()
            service.wait_for(lambda: on_topic(before), within=30, what="the first orders")
            # ...and committed: a batch acknowledged before the outage may commit after it.
            latest = (state.latest_event() or {}).get("id")
            service.wait_for(
                lambda: any(
                    r["message"] == COMMITTED and r.get("cursor") == latest for r in service.logs()
                ),
                within=30,
                what="the first orders committed",
            )

            service.signal(signal.SIGSTOP)  # whatever it has in flight stays unacknowledged
            in_flight = place_paid(state, 5)
            own_broker.stop()
            logged_before_outage = len(service.logs())
            service.signal(signal.SIGCONT)
            during = place_paid(state, 5)
            service.wait_for_log(POLL_FAILED, within=NOTICE_OUTAGE_WITHIN)
            outage = time.monotonic()

            service.signal(signal.SIGSTOP)
            during_outage = service.logs()[logged_before_outage:]
            own_broker.start()  # same port, empty
            asyncio.run(ensure_topics(own_kafka))
            service.signal(signal.SIGCONT)
            missing = ids_for(in_flight + during)
            service.wait_for(lambda: on_topic(missing), within=60, what="the held orders", poll=0.5)
            recovered = time.monotonic() - outage
            after = place_paid(state, 5)
            service.wait_for(lambda: on_topic(ids_for(after)), within=30, what="new orders")

            failures = service.count(POLL_FAILED)
            still_running = service.running
            service.terminate()
            code = service.wait_exit(within=15)
        records = read_all(own_kafka)

    ids = Counter(r.header("ce_id") for r in records)
    values = {r.header("ce_id"): r.value for r in records}
    print(
        f"\nbroker outage: {failures} failed polls while the broker was down, recovered "
        f"{recovered:.1f} s after the restart; {len(records)} records on the new broker "
        f"({sum(n - 1 for n in ids.values())} re-sent); {elapsed_since(started)} s"
    )
    assert still_running, "the service must ride out the outage, not exit"
    assert code == 0
    assert failures >= 1
    published_while_down = [
        r for r in during_outage if r["message"] == COMMITTED and r.get("published")
    ]
    assert published_while_down == [], "a batch was committed as published while Kafka was down"
    assert set(ids) >= ids_for(in_flight + during + after)
    assert set(ids) <= ids_for(), "an event nobody expected"
    for record in records:
        assert record.value == values[record.header("ce_id")], "a re-sent event differs"
