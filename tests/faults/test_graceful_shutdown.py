"""SIGTERM while polling: exit 0 within seconds, everything acknowledged stays committed,
nothing unpublished is committed. The first signal does not wait for a batch still reading:
only a publish + commit already under way completes (a second signal abandons even that)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from sandbox.allegro import SimulatorConfig, SimulatorServer
from sandbox.allegro.gateway import is_rest
from tests.faults.harness import ACCOUNT, InstrumentedState, env_for
from tests.support.kafka_reader import read_topic
from tests.support.process import ServiceProcess, wait_until
from tests.support.service import run_once

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ORDERS = 120
STARTED = "service started"
COMMITTED = "batch committed"
STOPPING = "stopping: the batch in flight is abandoned, a commit under way completes"
# Slow enough (10 requests/s) that the drain takes far longer than the test needs to stop it.
SLOW_CLIENT = {
    "BATCH_SIZE": "20",
    "ALLEGRO_RATE_LIMIT_PER_MINUTE": "600",
    "ALLEGRO_RATE_LIMIT_BURST": "5",
}
GRACEFUL_EXIT_SECONDS = 5.0


def fast(env: dict[str, str]) -> dict[str, str]:
    """The same service and state, without the slow client: for the follow-up `run --once`."""
    return {**env, "ALLEGRO_RATE_LIMIT_PER_MINUTE": "9000", "ALLEGRO_RATE_LIMIT_BURST": "100"}


@pytest.fixture
def allegro() -> Iterator[tuple[InstrumentedState, SimulatorServer]]:
    state = InstrumentedState(SimulatorConfig(seed=77))
    state.script_mixed_lifecycles(ORDERS, seed=77)  # finished before the service starts
    with SimulatorServer(state) as server:
        yield state, server


def quiescent_ids(state: InstrumentedState) -> set[str]:
    from tests.support.expectations import quiescent_event_ids

    return set(quiescent_event_ids(state, ACCOUNT))


def answered_rest_requests(state: InstrumentedState) -> int:
    return sum(1 for entry in state.request_log if is_rest(entry.path))


async def topic_ids(kafka_topics) -> list[str]:
    records = await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    return [record.header("ce_id") for record in records]


async def test_sigterm_stops_within_seconds_and_the_cursor_matches_what_was_published(
    allegro, kafka_topics, tmp_path
):
    state, server = allegro
    env = env_for(server, state, kafka_topics, tmp_path / "state.db", **SLOW_CLIENT)
    expected = quiescent_ids(state)

    with ServiceProcess(env, "run") as service:
        service.wait_for_log(COMMITTED, count=2, within=30)
        asked = time.monotonic()
        service.terminate()
        code = service.wait_exit(within=GRACEFUL_EXIT_SECONDS)
        took = time.monotonic() - asked
        logs = [record["message"] for record in service.logs()]
    before = await topic_ids(kafka_topics)
    rest = run_once(fast(env))
    after = await topic_ids(kafka_topics)

    print(
        f"\ngraceful stop: exit {code} after {took:.2f} s; {len(before)} events published "
        f"before the stop, {rest['published']} by the following run --once, "
        f"{len(expected)} expected"
    )
    assert code == 0
    assert "kafka producer stopped" in logs  # flushed and closed, not abandoned
    assert 0 < len(before) < len(expected), "the stop should land mid-stream"
    assert rest["published"] == len(expected) - len(before)
    assert Counter(after).most_common(1)[0][1] == 1, "an event was published twice"
    assert set(after) == expected


async def test_the_first_signal_abandons_a_batch_still_reading(allegro, kafka_topics, tmp_path):
    state, server = allegro
    env = env_for(server, state, kafka_topics, tmp_path / "state.db", **SLOW_CLIENT)
    expected = quiescent_ids(state)
    stuck_seconds = 8.0

    with ServiceProcess(env, "run") as service:
        service.wait_for_log(COMMITTED, count=1, within=30)
        with state.locked():
            state.faults.update({"delay_rate": 1.0, "delay_seconds": stuck_seconds})
            seen = len(state.arrivals)
        wait_until(
            lambda: any(a.verdict.delay for a in state.arrivals_snapshot()[seen:]),
            within=10,
            what="a request held by the delay fault (a batch in flight)",
        )
        asked = time.monotonic()
        service.signal(signal.SIGTERM)
        code = service.wait_exit(within=stuck_seconds / 2)  # not after the held request
        took = time.monotonic() - asked
        abandoned = service.count(STOPPING)
    state.faults.update({"delay_rate": 0.0})
    before = await topic_ids(kafka_topics)
    rest = run_once(fast(env))
    after = await topic_ids(kafka_topics)

    wait_until(  # let the held request end before the simulator stops
        lambda: answered_rest_requests(state) >= len(state.arrivals_snapshot()),
        within=stuck_seconds + 5,
        what="the simulator to answer every request it received",
    )

    print(f"\nfirst signal: exit {code} after {took:.2f} s (a request held {stuck_seconds} s)")
    assert code == 0
    assert abandoned == 1
    assert rest["published"] == len(expected) - len(before)
    assert Counter(after).most_common(1)[0][1] == 1, "an event was published twice"
    assert set(after) == expected
