"""Progress and stops under the request budget: `.venv/bin/python bench/stop_and_progress.py`.

A backlog of paid orders that must be read one by one (`ALLEGRO_BULK_READS=false`) under the
default budget (150 requests a minute, bursts of 5), with SQLite state, the Allegro simulator
(in a child process) and the embedded Kafka broker. For each of `--runs` runs, on fresh state
and topics, a real `openoms-allegro run` is started and the bench records:
- seconds from the start of the process to its first order on the orders topic (read with a
  consumer: the metrics count a batch only once all of it is committed);
- seconds from a SIGTERM sent at a random moment (3 to 25 s after the first order, seeded) to
  the process's exit, and its exit code.
Every wait has a deadline; the run is bounded by about `--runs` x 60 s. Raw figures go to
`bench/results/stop-*.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import signal
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pipeline import fresh_topics
from simproc import SimProcess, service_env
from takeover import RESULTS, Replica

from sandbox.kafka_broker import EmbeddedBroker

BACKLOG = 600  # ~4 minutes of single reads under the default budget: never drained here
FIRST_ORDER_BOUND = 60.0
EXIT_BOUND = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="service starts and stops")
    parser.add_argument("--seed", type=int, default=11, help="picks the moments of the stops")
    args = parser.parse_args()
    figures = run(max(1, min(args.runs, 10)), random.Random(args.seed))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"stop-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(figures, indent=2))
    print(render(figures))
    print(f"\nraw figures: {out}")


def run(runs: int, rng: random.Random) -> dict[str, Any]:
    results: list[dict[str, float]] = []
    with ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker())
        sim = stack.enter_context(SimProcess(seed=5))
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-stop-")))
        sim.call("burst", BACKLOG, 5, 0.5, 50)
        for number in range(1, runs + 1):
            env = _env(sim, broker.bootstrap_servers, logs / f"state-{number}.db")
            topic = env["KAFKA_TOPIC_ORDERS"]
            results.append(
                _start_and_stop(env, logs, number, rng.uniform(3.0, 25.0), broker, topic)
            )
    return {"backlog": BACKLOG, "runs": results}


def _start_and_stop(
    env: dict[str, str],
    logs: Path,
    number: int,
    after: float,
    broker: EmbeddedBroker,
    topic: str,
) -> dict[str, Any]:
    started = time.monotonic()
    service = Replica(env, logs, str(number))
    try:
        asyncio.run(_first_record(broker.bootstrap_servers, topic, FIRST_ORDER_BOUND))
        first = time.monotonic() - started
        time.sleep(after)
        published = asyncio.run(_count(broker.bootstrap_servers, topic))
        asked = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        code = service.process.wait(timeout=EXIT_BOUND)
        took = time.monotonic() - asked
    except BaseException:
        print(service.tail(), flush=True)
        raise
    finally:
        service.stop()
    print(
        f"[bench] run #{number}: first order after {first:.1f} s; SIGTERM {after:.1f} s later "
        f"({published} published) -> exit {code} after {took:.2f} s",
        flush=True,
    )
    return {
        "first_order": round(first, 2),
        "stop_after": round(after, 2),
        "published_before_stop": published,
        "exit_code": code,
        "exit_seconds": round(took, 2),
    }


async def _first_record(bootstrap_servers: str, topic: str, within: float) -> None:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + within
        while not any((await consumer.getmany(timeout_ms=100)).values()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no record on {topic} within {within:.0f} s")
    finally:
        await consumer.stop()


async def _count(bootstrap_servers: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await consumer.stop()


def _env(sim: SimProcess, bootstrap_servers: str, state_db: Path) -> dict[str, str]:
    kafka = asyncio.run(fresh_topics(bootstrap_servers, "stop"))
    return service_env(
        sim,
        bootstrap_servers,
        (kafka.topic_orders, kafka.topic_dlq),
        ALLEGRO_BULK_READS="false",  # one read per order: the slow case
        STATE_URL=f"sqlite:///{state_db}",
        TOKEN_ENCRYPTION_KEY=base64.urlsafe_b64encode(b"openoms-allegro-bench-key-32byte").decode(),
        HTTP_HOST="127.0.0.1",
    )


def render(figures: dict[str, Any]) -> str:
    runs = figures["runs"]
    firsts = [r["first_order"] for r in runs]
    exits = [r["exit_seconds"] for r in runs]
    codes = sorted({r["exit_code"] for r in runs})
    return "\n".join(
        [
            f"| single-read backlog of {figures['backlog']} orders, default budget, "
            f"{len(runs)} runs | median | max | target |",
            "|---|---|---|---|",
            f"| process start -> first published order | {statistics.median(firsts):.1f} s | "
            f"{max(firsts):.1f} s | <= 15 s |",
            f"| SIGTERM at a random moment -> exit (codes {codes}) | "
            f"{statistics.median(exits):.2f} s | {max(exits):.2f} s | <= 10 s |",
        ]
    )


if __name__ == "__main__":
    main()
