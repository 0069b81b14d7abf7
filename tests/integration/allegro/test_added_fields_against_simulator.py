"""The fields added to the order messages (issue 14), field by field against the
simulator's raw checkout form: read over real HTTP by the Allegro adapter, decided by the
import policy, published to a real broker and read back. The sibling of the seed mapping
table's field-by-field check (tests/e2e/test_import_end_to_end.py), which stays as it is."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.kafka.aiokafka_event_publisher import AiokafkaEventPublisher
from adapters.kafka.config import KafkaConfig
from application.ports.publisher import publish
from domain.events import DomainEvent
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy, OrderRecord, Revelation
from tests.support.kafka_reader import ConsumedRecord, read_topic

from .conftest import Sandbox

pytestmark = pytest.mark.integration

FULL_ORDER_TYPES = {"openoms.order.imported.v1", "openoms.order.updated.v1"}
REVELATION = Revelation("READY_FOR_PROCESSING", datetime(2026, 1, 1, tzinfo=UTC), True)


def instant(text: str | None) -> datetime | None:
    """An RFC 3339 time of either side as an aware datetime, for comparing instants."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def amount(money: dict[str, Any] | None) -> tuple[Decimal, str] | tuple[None, None]:
    return (Decimal(money["amount"]), money["currency"]) if money else (None, None)


def assert_added_fields_match_checkout_form(message: dict[str, Any], form: dict[str, Any]) -> None:
    """Field by field, against the simulator's raw camelCase checkout form."""
    fulfillment = form.get("fulfillment") or {}
    assert message["fulfillment_provider"] == (fulfillment.get("provider") or {}).get("id")
    assert message["line_items_sent"] == (fulfillment.get("shipmentSummary") or {}).get(
        "lineItemsSent"
    )
    dispatch = ((form.get("delivery") or {}).get("time") or {}).get("dispatch") or {}
    assert instant(message["dispatch_by"]) == instant(dispatch.get("to"))
    total = form["summary"]["totalToPay"]
    assert (Decimal(message["total_to_pay"]), message["currency"]) == amount(total)
    surcharges = [
        (s["id"], s["type"], s["provider"], instant(s["paid_at"]), s["amount"], s["currency"])
        for s in message["surcharges"]
    ]
    assert [(*s[:4], Decimal(s[4]) if s[4] else None, s[5]) for s in surcharges] == [
        (s["id"], s["type"], s["provider"], instant(s["finishedAt"]), *amount(s["paidAmount"]))
        for s in form.get("surcharges") or []
    ]
    payment = form.get("payment") or {}
    assert message["payment_id"] == payment.get("id")
    assert message["payment_provider"] == payment.get("provider")
    assert message["buyer_id"] == form["buyer"]["id"]
    assert [line["tax"] for line in message["line_items"]] == [
        item.get("tax") for item in form["lineItems"]
    ]
    assert "personalIdentity" not in message
    assert "personal_identity" not in message


async def decide_and_publish(
    sandbox: Sandbox,
    kafka_topics: KafkaConfig,
    order_ids: list[str],
    records: dict[str, OrderRecord | None],
) -> dict[str, dict[str, Any]]:
    """Reads each form over HTTP, decides it against its record and publishes the events;
    returns the raw form each decision was made on."""
    policy = ImportPolicy(account="fields")
    seen: dict[str, dict[str, Any]] = {}
    events: list[DomainEvent] = []
    async with sandbox.client() as client:
        for order_id in order_ids:
            order = await client.forms.get(order_id)
            assert isinstance(order, OrderSnapshot)
            seen[order_id] = sandbox.state.checkout_form(order_id)
            assert seen[order_id]["revision"] == order.revision  # the form that was read
            decision = policy.decide(order, records.get(order_id), REVELATION)
            events.extend(decision.events)
            if decision.record is not None:
                records[order_id] = decision.record
    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        await publish(publisher, events)
    return seen


def full_orders(records: list[ConsumedRecord]) -> list[dict[str, Any]]:
    return [r.json() for r in records if r.header("ce_type") in FULL_ORDER_TYPES]


async def test_the_added_fields_match_the_simulators_form_field_by_field(
    sandbox: Sandbox, kafka_topics: KafkaConfig
) -> None:
    state = sandbox.state
    scripted = state.script_mixed_lifecycles(30, seed=14, post_import=True)
    one_fulfillment = state.place_order(payment="ONLINE", one_fulfillment=True, line_items=2)
    extended = state.place_order(payment="EXTENDED_TERM")
    topped_up = state.place_order(payment="ONLINE")
    moved = state.place_order(payment="CASH_ON_DELIVERY")
    shipped = state.place_order(payment="ONLINE", line_items=3)
    planned = [one_fulfillment, extended, topped_up, moved, shipped]
    for order_id in planned:
        state.pay(order_id)
    order_ids = [*scripted, *planned]
    records: dict[str, OrderRecord | None] = {}

    at_import = await decide_and_publish(sandbox, kafka_topics, order_ids, records)
    imported = full_orders(
        await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    )
    state.add_surcharge(topped_up, "25.40")
    state.settle_extended_term(extended)
    state.buyer_change(moved, "address")
    state.send_line_items(shipped, 1)
    after = await decide_and_publish(sandbox, kafka_topics, order_ids, records)
    # publish returns once the broker acknowledged (acks=all): the topic is complete
    published = full_orders(
        await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    )

    assert {m["event_type"] for m in imported} == {"OrderImported"}
    assert set(planned) <= {m["external_id"] for m in imported}
    for message in imported:
        assert_added_fields_match_checkout_form(message, at_import[message["external_id"]])
    updates = [m for m in published if m["event_type"] == "OrderUpdated"]
    assert sorted(m["external_id"] for m in updates) == sorted(
        [topped_up, extended, moved, shipped]
    )
    for message in updates:
        assert_added_fields_match_checkout_form(message, after[message["external_id"]])
    # the values the test must have met, so that no comparison above held vacuously
    by_id = {m["external_id"]: m for m in published}  # the last message of each order
    assert by_id[one_fulfillment]["fulfillment_provider"] == "ALLEGRO"
    assert by_id[topped_up]["surcharges"][0]["amount"] == "25.40"
    assert "surcharges" in by_id[topped_up]["changed"]
    assert by_id[extended]["payment_provider"] == "EPT"
    assert by_id[moved]["changed"] == ["shipping_address"]
    assert by_id[shipped]["line_items_sent"] == "SOME"
    assert all(line["tax"] for line in by_id[shipped]["line_items"])
    assert all(m["dispatch_by"] for m in published)
