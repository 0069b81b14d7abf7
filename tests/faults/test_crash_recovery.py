"""Nothing lost, nothing doubled: `openoms-allegro run` SIGKILLed again and again while
orders keep changing. Some kills come from failpoints, between Kafka's ack and the commit
(a replay must re-send the same bytes) or just before the batch reaches Kafka (a cursor
committed too early would lose it); the others from the test, at random moments.

"Doubled" is measured, not asserted: a batch decided again after a crash from a form that
moved on meanwhile is a new decision, not a replay (see test_replay_after_crash.py)."""

from __future__ import annotations

import random
import time

import pytest

from sandbox.allegro import SimulatorConfig, SimulatorServer
from tests.faults.harness import (
    ACCOUNT,
    GENEROUS_SIMULATOR_LIMIT,
    InstrumentedState,
    Kills,
    OrderStream,
    elapsed_since,
    env_for,
)
from tests.support.expectations import audit, expected_events
from tests.support.kafka_reader import read_topic
from tests.support.process import CLI, FAILPOINT_CLI, KILLED, ServiceProcess
from tests.support.service import run_once

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 20260314
MIN_ORDERS = 520
BATCH_SIZE = "50"
# Runs take turns: the failpoint after Kafka's ack (the replay window), a random SIGKILL by
# the test, the failpoint before the batch reaches Kafka (the loss window of a cursor
# committed too early), a random SIGKILL again.
ROTATION = ("crash_after_publish", "test", "crash_before_publish", "test")
PROBABILITY = 0.3
MIN_KILLS = {"crash_after_publish": 4, "crash_before_publish": 2, "test": 6}
MIN_TOTAL_KILLS = 14
MAX_FAILPOINT_RUN = 8.0  # a caught-up service publishes nothing, so no failpoint fires
RANDOM_KILL_AFTER = (0.3, 3.0)  # from the spawn: some kills land in start-up, most mid-batch
DEADLINE = 150.0


def one_run(env: dict[str, str], rng: random.Random, kind: str, kills: Kills) -> None:
    """Start the service; it dies by its failpoint, or the test SIGKILLs it."""
    if kind == "test":
        run_env, module = env, CLI
    else:
        run_env, module = {**env, "OPENOMS_FAILPOINTS": f"{kind}:{PROBABILITY}"}, FAILPOINT_CLI
    kills.runs += 1
    with ServiceProcess(run_env, "run", module=module) as service:
        patience = MAX_FAILPOINT_RUN if kind != "test" else rng.uniform(*RANDOM_KILL_AFTER)
        if service.exits_within(patience):
            crashed_on_purpose = (
                service.returncode == KILLED and service.count(f"failpoint {kind}: SIGKILL") == 1
            )
            assert crashed_on_purpose, (
                f"the service ended by itself ({service.returncode}):\n{service.stderr_tail()}"
            )
            kills.by[kind] += 1
            kills.log.append("A" if kind == "crash_after_publish" else "B")
        else:
            assert service.kill() == KILLED
            kills.by["test"] += 1
            kills.log.append("T")


async def test_sigkills_lose_nothing_and_replays_are_byte_identical(kafka_topics, tmp_path):
    started = time.monotonic()
    rng = random.Random(SEED)
    state = InstrumentedState(
        SimulatorConfig(seed=SEED, rate_limit_per_minute=GENEROUS_SIMULATOR_LIMIT)
    )
    stream = OrderStream(state, orders=None, seed=SEED, step_seconds=0.006)
    kills = Kills(MIN_TOTAL_KILLS, MIN_KILLS)
    with SimulatorServer(state) as server:
        env = env_for(server, state, kafka_topics, tmp_path / "state.db", BATCH_SIZE=BATCH_SIZE)
        stream.start()
        try:
            # New orders keep coming until both quotas are met: a caught-up service publishes
            # nothing, and a failpoint only fires on a published batch.
            while not (kills.enough() and stream.started >= MIN_ORDERS):
                assert time.monotonic() - started < DEADLINE, (
                    f"too slow: {kills}, {stream.started} orders started"
                )
                one_run(env, rng, ROTATION[kills.runs % len(ROTATION)], kills)
            stream.wind_down()
            stream.wait_finished(within=30)
        finally:
            stream.stop()
        final = run_once(env)  # a clean run drains what the last kill left behind

        expected = expected_events(state, ACCOUNT)
        records = await read_topic(
            kafka_topics.bootstrap_servers,
            kafka_topics.topic_orders,
            min_records=len(expected.imports),
            within=30,
        )
    result = audit(records, expected)

    print(
        f"\ncrash test: {len(state.order_ids())} orders, {len(state.journal())} journal events, "
        f"{len(expected.imports)} must be imported; {kills.runs} runs, {kills.total} SIGKILLs "
        f"({kills.describe()}: {''.join(kills.log)}); final run published {final['published']}; "
        f"{result.summary()}; {elapsed_since(started)} s"
    )
    assert kills.enough(), kills
    assert not result.problems(), "\n".join(result.problems())
    assert result.duplicates > 0, "no replay happened: the crash window was never hit"
