"""The issue's acceptance scenario: 50 scripted orders, `run --once` three times."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.kafka_reader import ConsumedRecord, read_topic
from tests.support.service import run_once, service_env

pytestmark = pytest.mark.integration

IMPORTED = "openoms.order.imported.v1"


@pytest.fixture
def allegro():
    state = SimulatorState(SimulatorConfig(seed=2026))
    state.script_mixed_lifecycles(50, seed=2026)
    with SimulatorServer(state) as server:
        yield state, server


def expected_imports(state: SimulatorState) -> set[str]:
    return {oid for oid in state.order_ids() if state.ever_reached(oid, "READY_FOR_PROCESSING")}


def imported_records(records: list[ConsumedRecord]) -> list[ConsumedRecord]:
    return [r for r in records if r.header("ce_type") == IMPORTED]


def assert_matches_checkout_form(message: dict[str, Any], form: dict[str, Any]) -> None:
    """Field by field, against the simulator's raw camelCase checkout form."""
    assert message["external_id"] == form["id"]
    assert message["revision"] == form["revision"]
    assert message["customer_name"] == form["buyer"]["login"]
    assert message["customer_email"] == form["buyer"]["email"]
    paid = (form.get("payment") or {}).get("paidAmount")
    money = paid or form["summary"]["totalToPay"]
    assert Decimal(message["total_amount"]) == Decimal(money["amount"])
    assert message["currency"] == money["currency"]
    assert message["marketplace"] == form["marketplace"]["id"]
    assert message["fulfillment_status"] == (form.get("fulfillment") or {}).get("status")
    assert message["invoice_requested"] == bool((form.get("invoice") or {}).get("required"))
    lines = [
        (li["external_offer_id"], li["quantity"], Decimal(li["unit_price"]), li["sku"])
        for li in message["line_items"]
    ]
    expected_lines = [
        (
            li["offer"]["id"],
            li["quantity"],
            Decimal(li["price"]["amount"]),
            ((li["offer"].get("external") or {}).get("id")),
        )
        for li in form["lineItems"]
    ]
    assert lines == expected_lines
    address = (form.get("delivery") or {}).get("address")
    if address:
        shipping = message["shipping_address"]
        assert shipping["street"] == address["street"]
        assert shipping["postal_code"] == address["zipCode"]
        assert shipping["country_code"] == address["countryCode"]
        assert shipping["name"] == f"{address['firstName']} {address['lastName']}"


async def test_fifty_orders_imported_exactly_once_and_replays_are_byte_identical(
    allegro, kafka_topics, tmp_path
):
    state, server = allegro
    expected = expected_imports(state)
    assert 10 < len(expected) < 50, "the script should mix paid and never-paid orders"
    db = tmp_path / "state.db"
    env = service_env(server.url, state.config, state.initial_refresh_token, kafka_topics, db)

    first = run_once(env)
    records = await read_topic(
        kafka_topics.bootstrap_servers, kafka_topics.topic_orders, min_records=len(expected)
    )

    imported = imported_records(records)
    keys = Counter(r.key.decode() for r in imported if r.key)
    assert set(keys) == expected
    assert set(keys.values()) == {1}
    for record in imported:
        message = record.json()
        assert record.header("ce_id") == message["event_id"]
        assert record.header("ce_source") == "allegro/e2e"
        assert record.header("ce_subject") == message["external_id"]
        assert_matches_checkout_form(message, state.checkout_form(message["external_id"]))
    assert first["published"] == len(records)

    second = run_once(env)
    again = await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)

    assert second["published"] == 0
    assert len(again) == len(records)

    db.unlink()
    replay_env = {**env, "ALLEGRO_REFRESH_TOKEN": state.issue_refresh_token()}
    third = run_once(replay_env)
    replayed = await read_topic(
        kafka_topics.bootstrap_servers,
        kafka_topics.topic_orders,
        min_records=len(records) + len(expected),
    )

    assert third["published"] == len(expected)
    first_values = {r.header("ce_id"): r.value for r in imported}
    seen_before = {(r.partition, r.offset) for r in records}
    replayed_imports = [
        r for r in imported_records(replayed) if (r.partition, r.offset) not in seen_before
    ]
    assert {r.header("ce_id"): r.value for r in replayed_imports} == first_values
