"""A hostile Allegro: among good orders, the simulator serves forms no parser should have to
take (nesting 100 000 deep, a 5 000-digit number, an amount of 10^100000000, a NUL in a
revision, a body past ALLEGRO_MAX_BODY_BYTES) and a journal event naming the order `.`.

The service keeps running; every good order is published; every bad form is dead-lettered
with its context after the retry limit, the bad event at once; the cursor moves past them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.allegro import SimulatorConfig, SimulatorServer
from sandbox.allegro.encoding import RawJson
from tests.faults.harness import ACCOUNT, InstrumentedState, env_for
from tests.faults.test_poison import ATTEMPTS, drain, fresh_topics
from tests.support.expectations import quiescent_event_ids
from tests.support.kafka_reader import ConsumedRecord, read_topic

pytestmark = [pytest.mark.integration]

MAX_BODY = 256 * 1024
DEEP = "[" * 100_000 + "]" * 100_000


def with_raw(key: str, raw_value: str) -> Callable[[dict[str, Any]], Any]:
    def alter(form: dict[str, Any]) -> RawJson:
        return RawJson(json.dumps({**form, key: "__X__"}).replace('"__X__"', raw_value))

    return alter


def huge_quantity(form: dict[str, Any]) -> RawJson:
    text = json.dumps(form)
    return RawJson(text.replace('"quantity": ', '"quantity": ' + "9" * 5_000 + "", 1))


def absurd_amount(form: dict[str, Any]) -> dict[str, Any]:
    form["summary"] = {"totalToPay": {**form["summary"]["totalToPay"], "amount": "1E+100000000"}}
    return form


def nul_revision(form: dict[str, Any]) -> dict[str, Any]:
    form["revision"] = form["revision"][:4] + "\x00" + form["revision"][4:]
    return form


def oversize(form: dict[str, Any]) -> dict[str, Any]:
    form["messageToSeller"] = "x" * (MAX_BODY + 1)
    return form


HOSTILE: dict[str, Callable[[dict[str, Any]], Any]] = {
    "nested-100000-deep": with_raw("messageToSeller", DEEP),
    "int-of-5000-digits": huge_quantity,
    "amount-1E+100000000": absurd_amount,
    "nul-in-revision": nul_revision,
    "body-past-the-limit": oversize,
}


class HostileState(InstrumentedState):
    """Also serves chosen journal events with another checkout form id."""

    def __init__(self, cfg: SimulatorConfig) -> None:
        super().__init__(cfg)
        self.event_form_ids: dict[str, str] = {}

    def events_page(self, after: int | None, types: set[str] | None, limit: int) -> list[Any]:
        events = super().events_page(after, types, limit)
        return [self._altered_event(event) for event in events]

    def _altered_event(self, event: dict[str, Any]) -> dict[str, Any]:
        form_id = self.event_form_ids.get(event["id"])
        if form_id is None:
            return event
        order = {**event["order"], "checkoutForm": {"id": form_id, "revision": None}}
        return {**event, "order": order}


@dataclass
class HostileRun:
    state: HostileState
    bad: dict[str, str]  # order id -> which hostility
    bad_event: str
    first: dict[str, Any]
    second: dict[str, Any]
    later: list[str]
    letters: dict[str, ConsumedRecord]
    orders: list[ConsumedRecord]
    expected_ids: set[str]


@pytest.fixture(scope="module")
def hostile_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    kafka = fresh_topics(kafka_bootstrap, "hostile")
    state = HostileState(SimulatorConfig(seed=406))
    state.script_mixed_lifecycles(40, seed=406)
    ready = [
        oid
        for oid in state.order_ids()
        if state.checkout_form(oid)["status"] == "READY_FOR_PROCESSING"
    ]
    bad = dict(zip(ready[: len(HOSTILE)], HOSTILE, strict=True))
    state.poison = {oid: HOSTILE[name] for oid, name in bad.items()}
    # A BOUGHT event of a good order names `.`: its other events still import the order.
    good = ready[len(HOSTILE)]
    bad_event = next(
        e["id"]
        for e in state.journal()
        if e["order"]["checkoutForm"]["id"] == good and e["type"] == "BOUGHT"
    )
    state.event_form_ids = {bad_event: "."}
    expected = quiescent_event_ids(state, ACCOUNT)
    expected_ids = {ce for ce, oid in expected.items() if oid not in bad}
    db = tmp_path_factory.mktemp("hostile") / "state.db"
    with SimulatorServer(state) as server:
        env = env_for(
            server,
            state,
            kafka,
            db,
            DEAD_LETTER_AFTER_ATTEMPTS=str(ATTEMPTS),
            ALLEGRO_MAX_BODY_BYTES=str(MAX_BODY),
        )
        first, _ = drain(env, list(bad))
        later = []
        for _ in range(3):
            order_id = state.place_order()
            state.pay(order_id)
            later.append(order_id)
        second, _ = drain(env, list(bad))
    expected_ids |= {ce for ce, oid in quiescent_event_ids(state, ACCOUNT).items() if oid in later}
    letters = asyncio.run(
        read_topic(kafka.bootstrap_servers, kafka.topic_dlq, min_records=len(bad) + 1)
    )
    orders = asyncio.run(read_topic(kafka.bootstrap_servers, kafka.topic_orders))
    return HostileRun(
        state=state,
        bad=bad,
        bad_event=bad_event,
        first=first,
        second=second,
        later=later,
        letters={r.key.decode(): r for r in letters if r.key},
        orders=orders,
        expected_ids=expected_ids,
    )


def test_every_good_order_is_published_once_and_no_bad_one(hostile_run: HostileRun) -> None:
    run = hostile_run
    ids = [record.header("ce_id") for record in run.orders]
    subjects = {record.header("ce_subject") for record in run.orders}

    assert sorted(ids) == sorted(run.expected_ids)  # and nothing twice
    assert not set(run.bad) & subjects
    assert set(run.later) <= subjects


def test_every_bad_form_is_dead_lettered_with_context_after_the_retry_limit(
    hostile_run: HostileRun,
) -> None:
    run = hostile_run
    bad_form_letters = {key: r for key, r in run.letters.items() if key in run.bad}

    assert set(bad_form_letters) == set(run.bad)
    for order_id, record in bad_form_letters.items():
        letter = record.json()
        assert letter["attempts"] == ATTEMPTS, run.bad[order_id]
        assert letter["error"], run.bad[order_id]
        assert letter["allegro_event_id"], run.bad[order_id]
    by_kind = {run.bad[key]: r.json() for key, r in bad_form_letters.items()}
    assert "ALLEGRO_MAX_BODY_BYTES" in by_kind["body-past-the-limit"]["error"]
    assert "revision" in by_kind["nul-in-revision"]["error"]
    assert "below" in by_kind["amount-1E+100000000"]["error"]
    assert by_kind["nested-100000-deep"]["raw_payload"].startswith("{")


def test_the_bad_journal_event_is_dead_lettered_at_once(hostile_run: HostileRun) -> None:
    run = hostile_run
    record = run.letters[f"malformed-event-{run.bad_event}"]
    letter = record.json()

    assert letter["allegro_event_id"] == run.bad_event
    assert letter["attempts"] == 1
    assert json.loads(letter["raw_payload"])["order"]["checkoutForm"]["id"] == "."
    assert "." not in run.letters  # no dead letter under the bad id itself


def test_the_service_ran_on_and_the_cursor_moved_past_them(hostile_run: HostileRun) -> None:
    run = hostile_run

    assert run.first["dead_lettered"] == len(run.bad) + 1
    assert run.second["published"] == len(run.later)
    assert run.second["dead_lettered"] == 0
    assert int(run.second["cursor"]) > int(run.first["cursor"])
