"""A checkout form that cannot be mapped is retried DEAD_LETTER_AFTER_ATTEMPTS times, then
quarantined on the dead-letter topic with everything needed to replay it, and the cursor
moves on: later orders are imported.

The simulator stores only forms Allegro could send, so the poisoned forms are served
altered by `InstrumentedState.poison` (test hook on `find_form`/`list_forms`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.admin import ensure_topics
from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer
from tests.faults.harness import ACCOUNT, InstrumentedState, env_for
from tests.support.expectations import quiescent_event_ids
from tests.support.kafka_fixtures import TEST_REQUEST_TIMEOUT_MS
from tests.support.kafka_reader import ConsumedRecord, read_topic
from tests.support.process import ServiceProcess

pytestmark = [pytest.mark.integration]

ATTEMPTS = 3
UNKNOWN_FULFILLMENT = "TELEPORTED"


def unknown_fulfillment(form: dict[str, Any]) -> dict[str, Any]:
    """Well-formed, but the status mapping has no row for it: UnmappableOrder."""
    form["fulfillment"] = {**form["fulfillment"], "status": UNKNOWN_FULFILLMENT}
    return form


def comma_amount(form: dict[str, Any]) -> dict[str, Any]:
    """Not a decimal: the wire body cannot be read into a snapshot (MalformedCheckoutForm)."""
    total = form["summary"]["totalToPay"]
    form["summary"] = {"totalToPay": {**total, "amount": "12,50 zł"}}
    return form


@dataclass
class PoisonRun:
    state: InstrumentedState
    unmappable: str
    malformed: str
    first: dict[str, Any]
    second: dict[str, Any]
    later_orders: list[str]
    attempts_first: dict[str, list[int]]
    attempts_second: dict[str, list[int]]
    letters: dict[str, ConsumedRecord]
    orders_topic: list[ConsumedRecord]
    expected_ids: set[str]


UNMAPPABLE_LOG = "checkout form cannot be mapped"


def drain(env: dict[str, str], watched: list[str]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """`run --once`: its summary, and the failed attempts it logged per watched order
    (whichever way the form was read: alone, or from a list page)."""
    with ServiceProcess(env, "run", "--once") as once:
        code = once.wait_exit(within=60)
        assert code == 0, f"run --once exited {code}:\n{once.stderr_tail()}"
        summary: dict[str, Any] = json.loads(once.stdout_lines()[-1])
        attempts: dict[str, list[int]] = {oid: [] for oid in watched}
        for record in once.logs_with(UNMAPPABLE_LOG):
            if record.get("checkout_form_id") in attempts:
                attempts[record["checkout_form_id"]].append(record["attempts"])
    return summary, attempts


def last_event_id(state: InstrumentedState, order_id: str) -> str:
    ids = [e["id"] for e in state.journal() if e["order"]["checkoutForm"]["id"] == order_id]
    return ids[-1]


def fresh_topics(bootstrap: str, tag: str) -> KafkaConfig:
    import uuid

    suffix = f"{tag}.{uuid.uuid4().hex[:12]}"
    config = KafkaConfig(
        bootstrap_servers=bootstrap,
        topic_orders=f"test.orders.{suffix}",
        topic_dlq=f"test.orders.dlq.{suffix}",
        enable_idempotence=False,
        request_timeout_ms=TEST_REQUEST_TIMEOUT_MS,
    )
    asyncio.run(ensure_topics(config))
    return config


@pytest.fixture(scope="module")
def poison_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> PoisonRun:
    """One scenario, several tests: two poisoned orders among 40, two `run --once`."""
    kafka = fresh_topics(kafka_bootstrap, "poison")
    state = InstrumentedState(SimulatorConfig(seed=404))
    state.script_mixed_lifecycles(40, seed=404)
    ready = [
        oid
        for oid in state.order_ids()
        if state.checkout_form(oid)["status"] == "READY_FOR_PROCESSING"
    ]
    unmappable, malformed = ready[1], ready[-2]
    state.poison = {unmappable: unknown_fulfillment, malformed: comma_amount}
    expected = quiescent_event_ids(state, ACCOUNT)
    expected_ids = {ce for ce, oid in expected.items() if oid not in (unmappable, malformed)}
    db = tmp_path_factory.mktemp("poison") / "state.db"
    with SimulatorServer(state) as server:
        env = env_for(server, state, kafka, db, DEAD_LETTER_AFTER_ATTEMPTS=str(ATTEMPTS))
        first, attempts_first = drain(env, [unmappable, malformed])
        later = []
        for _ in range(3):
            order_id = state.place_order()
            state.pay(order_id)
            later.append(order_id)
        second, attempts_second = drain(env, [unmappable, malformed])
    expected_ids |= {ce for ce, oid in quiescent_event_ids(state, ACCOUNT).items() if oid in later}
    letters = asyncio.run(read_topic(kafka.bootstrap_servers, kafka.topic_dlq, min_records=2))
    orders = asyncio.run(read_topic(kafka.bootstrap_servers, kafka.topic_orders))
    return PoisonRun(
        state=state,
        unmappable=unmappable,
        malformed=malformed,
        first=first,
        second=second,
        later_orders=later,
        attempts_first=attempts_first,
        attempts_second=attempts_second,
        letters={r.key.decode(): r for r in letters if r.key},
        orders_topic=orders,
        expected_ids=expected_ids,
    )


def test_a_poisoned_form_is_retried_then_quarantined(poison_run):
    run = poison_run
    every_attempt = list(range(1, ATTEMPTS + 1))
    assert run.attempts_first == {run.unmappable: every_attempt, run.malformed: every_attempt}
    assert run.first["dead_lettered"] == 2
    assert set(run.letters) == {run.unmappable, run.malformed}
    for order_id, record in run.letters.items():
        letter = record.json()
        assert letter["account"] == ACCOUNT
        assert letter["checkout_form_id"] == order_id
        assert letter["allegro_event_id"] == last_event_id(run.state, order_id)
        assert letter["attempts"] == ATTEMPTS
        assert record.header("ce_subject") == order_id
    unmappable = run.letters[run.unmappable].json()
    assert UNKNOWN_FULFILLMENT in unmappable["error"]
    assert UNKNOWN_FULFILLMENT in unmappable["raw_payload"]
    assert run.unmappable in unmappable["raw_payload"]


def test_a_malformed_form_is_quarantined_with_the_body_allegro_sent(poison_run):
    run = poison_run
    letter = run.letters[run.malformed].json()
    served = run.state.find_form(run.malformed)

    assert "amount" in letter["error"]
    assert json.loads(letter["raw_payload"]) == served


def test_the_cursor_moves_on_and_later_orders_are_imported(poison_run):
    run = poison_run
    ids = [record.header("ce_id") for record in run.orders_topic]
    subjects = {record.header("ce_subject") for record in run.orders_topic}

    assert run.first["cursor"] is not None
    assert run.attempts_second == {run.unmappable: [], run.malformed: []}
    assert run.second["published"] == len(run.later_orders)
    assert set(run.later_orders) <= subjects
    assert not {run.unmappable, run.malformed} & subjects
    assert sorted(ids) == sorted(run.expected_ids)  # and nothing twice


def test_an_unmappable_form_is_quarantined_with_the_body_allegro_sent(poison_run):
    run = poison_run
    letter = run.letters[run.unmappable].json()

    assert json.loads(letter["raw_payload"]) == run.state.find_form(run.unmappable)


def trailing_newline_currency(form: dict[str, Any]) -> dict[str, Any]:
    total = form["summary"]["totalToPay"]
    form["summary"] = {"totalToPay": {**total, "currency": total["currency"] + "\n"}}
    payment = form.get("payment") or {}
    if payment.get("paidAmount"):
        payment["paidAmount"] = {**payment["paidAmount"], "currency": total["currency"] + "\n"}
    return form


def far_past_with_offset(form: dict[str, Any]) -> dict[str, Any]:
    form["updatedAt"] = "0001-01-01T00:30:00+01:00"
    return form


@pytest.mark.parametrize(
    "poison",
    [
        trailing_newline_currency,
        far_past_with_offset,
    ],
)
def test_a_form_that_breaks_the_process_is_quarantined_instead(poison, kafka_bootstrap, tmp_path):
    kafka = fresh_topics(kafka_bootstrap, "pill")
    state = InstrumentedState(SimulatorConfig(seed=405))
    order_id = state.place_order(payment="ONLINE")
    state.pay(order_id)
    state.poison = {order_id: poison}
    with SimulatorServer(state) as server:
        env = env_for(server, state, kafka, Path(tmp_path) / "state.db")
        with ServiceProcess(env, "run", "--once") as once:
            code = once.wait_exit(within=60)
            tail = once.stderr_tail()

    assert code == 0, f"run --once exited {code}:\n{tail}"
    letters = asyncio.run(read_topic(kafka.bootstrap_servers, kafka.topic_dlq, min_records=1))
    assert [r.key for r in letters] == [order_id.encode()]
