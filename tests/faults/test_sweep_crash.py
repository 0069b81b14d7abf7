"""A backfill SIGKILLed between Kafka's ack and the commit of a page (the failpoint), while
the seller moves an order of that page on: the next backfill re-sends the page byte for byte
before it decides anything, then decides on top of it. The sweep stages its pages like the
journal stages its batches (see test_replay_after_crash.py for each interleaving with fakes).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.faults.harness import GENEROUS_SIMULATOR_LIMIT, env_for
from tests.support.kafka_reader import ConsumedRecord, read_topic
from tests.support.process import FAILPOINT_CLI, KILLED
from tests.support.service import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 41
ORDERS = 40
IMPORTED_TYPE = "openoms.order.imported.v1"
RESENT = "re-sending a batch staged before an interruption"


Content = tuple[bytes | None, tuple[tuple[str, bytes], ...]]


def ids(records: list[ConsumedRecord], ce_type: str | None = None) -> dict[str, set[Content]]:
    """ce_id -> every distinct (value, headers) the topic holds under it."""
    seen: dict[str, set[Content]] = defaultdict(set)
    for record in records:
        if ce_type is None or record.header("ce_type") == ce_type:
            seen[record.header("ce_id")].add((record.value, record.headers))
    return seen


def movable(records: list[ConsumedRecord]) -> str:
    """An order imported before the crash that the seller can still mark sent."""
    for record in records:
        message = record.json()
        if message["event_type"] == "OrderImported" and message["order_status"] == "new":
            return str(message["external_id"])
    raise AssertionError("no new order was imported before the crash")


async def test_a_backfill_crashed_after_the_ack_re_sends_its_page_without_deciding_again(
    kafka_topics, tmp_path
):
    state = SimulatorState(
        SimulatorConfig(seed=SEED, rate_limit_per_minute=GENEROUS_SIMULATOR_LIMIT)
    )
    state.script_mixed_lifecycles(ORDERS, seed=SEED)
    since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    with SimulatorServer(state) as server:
        env = env_for(server, state, kafka_topics, tmp_path / "state.db")
        crashed = run_cli(
            "backfill",
            "--since",
            since,
            env={**env, "OPENOMS_FAILPOINTS": "crash_after_publish"},
            module=FAILPOINT_CLI,
        )
        assert crashed.returncode == KILLED, crashed.stderr[-3000:]
        before = await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
        moved = movable(before)
        state.set_fulfillment(moved, "SENT")  # deciding the page again would import it anew

        done = run_cli("backfill", "--since", since, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        after = await read_topic(
            kafka_topics.bootstrap_servers, kafka_topics.topic_orders, min_records=len(before)
        )

    assert done.stderr.count(RESENT) == 1, done.stderr[-3000:]
    replayed = ids(after)
    for ce_id, values in ids(before).items():
        assert replayed[ce_id] == values, f"{ce_id} was re-sent with other bytes"
    copies = Counter(record.header("ce_id") for record in after)
    assert {copies[ce_id] for ce_id in ids(before)} == {2}, "each record is re-sent once"
    imported = [r.json()["external_id"] for r in after if r.header("ce_type") == IMPORTED_TYPE]
    assert len(set(imported)) == len(ids(after, IMPORTED_TYPE)), "an order imported twice"
    events = [r.json() for r in after if r.json()["external_id"] == moved]
    statuses = [e for e in events if e["event_type"] != "OrderUpdated"]  # content, not status
    assert (statuses[-1]["event_type"], statuses[-1]["order_status"]) == (
        "OrderStatusChanged",
        "shipped",
    )
    assert events[-1]["order_status"] == "shipped"
