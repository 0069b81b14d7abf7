"""Allegro misbehaving at a steady rate (429 blocks, 5xx, hanging requests, slow answers):
the client stays within its configured request budget and nothing is lost or doubled.

Orders are both there at the start (read through list pages) and trickling in during the
storm (small batches, single reads), so both read paths and the idle polls meet faults."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer
from sandbox.allegro.gateway import is_rest
from sandbox.allegro.state import RequestLogEntry
from tests.faults.harness import (
    ACCOUNT,
    Arrival,
    InstrumentedState,
    OrderStream,
    elapsed_since,
    env_for,
    sliding_window_max,
)
from tests.support.expectations import audit, expected_events
from tests.support.kafka_reader import ConsumedRecord, read_topic
from tests.support.process import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ORDERS_AT_START = 60
ORDERS_DURING = 120
PER_MINUTE = 600  # 10 requests/s: less than the polls ask for, so the bucket is what limits
BURST = 5
TIMEOUT_SECONDS = 1.0
BLOCK_SECONDS = 2
STORM = {
    "error_rate": 0.05,  # 500/503/504
    "rate_limit_rate": 0.03,  # 429 + a block of BLOCK_SECONDS, announced by Retry-After
    "retry_after_on_429": BLOCK_SECONDS,
    "timeout_rate": 0.03,
    "hang_seconds": 3 * TIMEOUT_SECONDS,  # held past the client's timeout
    "delay_rate": 0.10,
    "delay_seconds": TIMEOUT_SECONDS / 2,  # slow, yet in time
}
FAULT_KINDS = {"429", "5xx", "hang", "slow"}
WINDOWS = (1.0, 5.0, 10.0, 60.0)
# Arrival stamps are taken by the simulator's event loop, which shares a GIL with the test:
# a request may be stamped a little late, so a window is allowed this much extra refill.
STAMP_SLACK_SECONDS = 0.25
DEADLINE = 120.0
COMMITTED = "batch committed"


def budget(window: float) -> int:
    """At most `burst + rate * window` requests in any window (a token bucket), and never
    more than the per-minute budget in any 60-second one (the client's sliding window)."""
    if window >= 60:
        return PER_MINUTE
    return min(PER_MINUTE, int(BURST + PER_MINUTE * (window + STAMP_SLACK_SECONDS) / 60))


def test_a_fault_storm_keeps_the_budget_and_loses_nothing(kafka_topics, tmp_path):
    started = time.monotonic()
    state = InstrumentedState(SimulatorConfig(seed=429, block_seconds=BLOCK_SECONDS))
    state.script_mixed_lifecycles(ORDERS_AT_START, seed=429)
    stream = OrderStream(state, orders=ORDERS_DURING, seed=430, step_seconds=0.025)
    state.faults.update(STORM)
    with SimulatorServer(state) as server:
        env = env_for(
            server,
            state,
            kafka_topics,
            tmp_path / "state.db",
            BATCH_SIZE="100",
            POLL_INTERVAL_SECONDS="0.05",
            ALLEGRO_RATE_LIMIT_PER_MINUTE=str(PER_MINUTE),
            ALLEGRO_RATE_LIMIT_BURST=str(BURST),
            ALLEGRO_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        )
        with ServiceProcess(env, "run") as service:
            stream.start()
            try:
                stream.wait_finished(within=DEADLINE / 2)
            finally:
                stream.stop()
            latest = state.journal()[-1]["id"]

            def caught_up_and_every_fault_met() -> bool:
                """The service committed the journal's last event, and met every fault."""
                committed = {r.get("cursor") for r in service.logs_with(COMMITTED)}
                met = {_kind(a.verdict) for a in state.arrivals_snapshot()}
                return latest in committed and met >= FAULT_KINDS

            service.wait_for(
                caught_up_and_every_fault_met,
                within=DEADLINE,
                what="the service to commit the last journal event and meet every fault",
                poll=0.2,
            )
            service.terminate()
            assert service.wait_exit(within=15) == 0
            failures = service.count("poll failed, cursor held")
        arrivals = state.arrivals_snapshot()
        log = state.request_log
        result = audit(_read(kafka_topics), expected_events(state, ACCOUNT))

    rest = [a.monotonic for a in arrivals]
    oauth = [e.monotonic for e in log if not is_rest(e.path)]
    peaks = {w: sliding_window_max(rest + oauth, w) for w in WINDOWS}
    logged_peak = sliding_window_max([e.monotonic for e in log], 60.0)  # completion times
    verdicts = Counter(_kind(a.verdict) for a in arrivals)
    statuses = Counter(e.status for e in log if is_rest(e.path))
    print(
        f"\nfault storm: {len(rest)} REST + {len(oauth)} OAuth requests over "
        f"{rest[-1] - rest[0]:.1f} s; injected {dict(verdicts)}; answered {dict(statuses)}; "
        f"{failures} failed polls; peak requests per window (budget): "
        + ", ".join(f"{w:g}s {peaks[w]} ({budget(w)})" for w in WINDOWS)
        + f", 60s by the request log {logged_peak}"
        + f"; next request after a 429 (s): {quiet_after_429(log, arrivals)}"
        + f"; {len(state.order_ids())} orders, {result.summary()}; "
        f"{elapsed_since(started)} s"
    )
    early = requests_inside_blocks(log, arrivals)
    for window, peak in peaks.items():
        assert peak <= budget(window), f"{peak} requests in {window} s"
    assert statuses[429] >= 1, "no 429 was answered: the block went untested"
    assert not early, f"requests sent inside a 429's block (seconds after the 429): {early[:5]}"
    assert logged_peak <= PER_MINUTE, f"{logged_peak} requests in a minute of the request log"
    assert not result.problems(), "\n".join(result.problems())
    assert (result.duplicates, result.extra_imports, result.repeated_triples) == (0, 0, 0)


def requests_inside_blocks(log: list[RequestLogEntry], arrivals: list[Arrival]) -> list[float]:
    """Arrivals of a client inside the block a 429 announced to it, as seconds after that 429.

    docs/allegro-api.md, Errors and rate limits: a 429 blocks the client id (a minute, or
    what `Retry-After` says), so
    the client must send nothing more until the block ends, not only retry the refused
    request later. The block is measured from when the 429 was answered (the request log
    stamps the response's start); requests already under way then are allowed the slack.
    """
    early = []
    for refused in (e for e in log if e.status == 429 and is_rest(e.path)):
        start, end = refused.monotonic + STAMP_SLACK_SECONDS, refused.monotonic + BLOCK_SECONDS
        early += [
            round(a.monotonic - refused.monotonic, 3)
            for a in arrivals
            if a.client_id == refused.client_id and start < a.monotonic < end - STAMP_SLACK_SECONDS
        ]
    return early


def quiet_after_429(log: list[RequestLogEntry], arrivals: list[Arrival]) -> list[float]:
    """For each 429: seconds until the client's next request arrived (past the slack)."""
    gaps = []
    for refused in (e for e in log if e.status == 429 and is_rest(e.path)):
        later = [
            a.monotonic - refused.monotonic
            for a in arrivals
            if a.client_id == refused.client_id
            and a.monotonic > refused.monotonic + STAMP_SLACK_SECONDS
        ]
        gaps.append(round(min(later), 2) if later else float("inf"))
    return gaps


def _read(kafka_topics: KafkaConfig) -> list[ConsumedRecord]:
    return asyncio.run(
        read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders, within=10)
    )


def _kind(verdict) -> str:
    if verdict.hang:
        return "hang"
    if verdict.status == 429:
        return "429"
    if verdict.status is not None:
        return "5xx" if verdict.status >= 500 else str(verdict.status)
    return "slow" if verdict.delay else "ok"
