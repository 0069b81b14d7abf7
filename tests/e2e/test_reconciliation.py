"""Journal holes and expired cursors are repaired by sweeping checkout forms."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.expectations import PAID_ORDER_STATUS
from tests.support.kafka_reader import ConsumedRecord, read_topic
from tests.support.process import service_process
from tests.support.service import run_cli, run_once, service_env

pytestmark = pytest.mark.integration


def expected_status(form: dict[str, Any]) -> str:
    if form["status"] == "CANCELLED":
        return "cancelled"
    # README.md, Messages (written out in tests/support/expectations, not read from src)
    return PAID_ORDER_STATUS[(form.get("fulfillment") or {}).get("status") or "NEW"]


def latest_status_per_order(records: list[ConsumedRecord]) -> dict[str, str]:
    latest: dict[str, str] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        message = record.json()
        latest[message["external_id"]] = message["order_status"]
    return latest


@pytest.fixture
def allegro():
    state = SimulatorState(SimulatorConfig(seed=77))
    state.script_mixed_lifecycles(60, seed=77)
    with SimulatorServer(state) as server:
        yield state, server


def env_for(server: SimulatorServer, kafka_topics, tmp_path, **overrides: str) -> dict[str, str]:
    state = server.state
    return service_env(
        server.url,
        state.config,
        state.initial_refresh_token,
        kafka_topics,
        tmp_path / "s.db",
        **overrides,
    )


def paid_orders(state: SimulatorState) -> set[str]:
    return {o for o in state.order_ids() if state.ever_reached(o, "READY_FOR_PROCESSING")}


async def test_a_hole_in_the_journal_is_repaired_by_a_sweep(allegro, kafka_topics, tmp_path):
    state, server = allegro
    journal = state.journal()
    rng = random.Random(5)
    victims = rng.sample(sorted(paid_orders(state)), 8)
    dropped = [e["id"] for e in journal if e["order"]["checkoutForm"]["id"] in victims]
    state.drop_journal_events(dropped)
    env = env_for(server, kafka_topics, tmp_path)

    run_once(env)
    before = latest_status_per_order(
        await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    )
    assert set(victims) - set(before), "the hole should hide some paid orders"

    since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    done = run_cli("backfill", "--since", since, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    after = latest_status_per_order(
        await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    )

    assert set(after) == paid_orders(state)
    for order_id, status in after.items():
        assert status == expected_status(state.checkout_form(order_id)), order_id


async def test_a_cursor_older_than_retention_is_repaired(allegro, kafka_topics, tmp_path):
    state, server = allegro
    journal = state.journal()
    state.expire_journal_before(journal[len(journal) // 2]["id"])
    sixty_one_days_ago = datetime.now(UTC) - timedelta(days=61)
    stale_cursor = str(int(sixty_one_days_ago.timestamp() * 1_000_000))
    env = env_for(server, kafka_topics, tmp_path, ALLEGRO_START_FROM=stale_cursor)

    run_once(env)
    published = latest_status_per_order(
        await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    )

    assert set(published) == paid_orders(state)
    for order_id, status in published.items():
        assert status == expected_status(state.checkout_form(order_id)), order_id


async def test_the_deep_sweep_repairs_a_missed_fulfillment_change_of_an_older_order(
    allegro, kafka_topics, tmp_path
):
    """The light sweep is off and looks back ~1 s; the deep one covers the day before that
    every 3.6 s (in production: 3 days and 30 days, once a day)."""
    state, server = allegro
    env = env_for(
        server,
        kafka_topics,
        tmp_path,
        POLL_INTERVAL_SECONDS="0.2",
        RECONCILE_INTERVAL_SECONDS="0",
        RECONCILE_LOOKBACK_HOURS="0.0003",
        RECONCILE_DEEP_LOOKBACK_DAYS="1",
        RECONCILE_DEEP_INTERVAL_HOURS="0.001",
    )
    victim = next(
        order_id
        for order_id in sorted(paid_orders(state))
        if expected_status(state.checkout_form(order_id)) not in ("cancelled", "shipped")
    )
    with service_process(env, "run") as service:
        service.wait_for_log("batch committed", within=30)
        with state.locked():  # the seller ships it; the journal never shows the event
            state.set_fulfillment(victim, "SENT")
            last = state.journal()[-1]
            assert last["type"] == "FULFILLMENT_STATUS_CHANGED"
            assert last["order"]["checkoutForm"]["id"] == victim
            state.drop_journal_events([last["id"]])

        deadline = time.monotonic() + 30
        while not (changes := await status_changes(kafka_topics, victim)):
            assert service.running, service.stderr_tail()
            assert time.monotonic() < deadline, "no status change for the shipped order"
            await asyncio.sleep(0.2)
        service.terminate()
        assert service.wait_exit(within=20) == 0

    assert [(c["order_status"], c["reason"]) for c in changes] == [("shipped", "RECONCILIATION")]
    assert service.count("deep reconciliation sweep") >= 1


async def status_changes(kafka_topics, order_id: str) -> list[dict[str, Any]]:
    records = await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    return [
        record.json()
        for record in records
        if record.header("ce_subject") == order_id
        and record.header("ce_type") == "openoms.order.status_changed.v1"
    ]
