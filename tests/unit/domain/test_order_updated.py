"""OrderUpdated: an imported order whose content (anything published but the status triple)
changed. The record keeps digests per field, not the buyer's data; `changed` names the fields.
Expected field names are written out here, not derived from the code under test."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.events import OrderImported, OrderStatusChanged, OrderUpdated
from domain.order import OrderSnapshot, Payment, ShippingAddress, TimeWindow
from domain.policy import Decision, ImportPolicy, OrderRecord, Revelation
from tests.support.builders import make_delivery, make_order_snapshot, pln

POLICY = ImportPolicy(account="shop-1")
PAID = Revelation("READY_FOR_PROCESSING", datetime(2026, 3, 14, 9, 15, 22, tzinfo=UTC), True)
MODIFIED = Revelation("BUYER_MODIFIED", datetime(2026, 3, 14, 11, 0, tzinfo=UTC))
LATER = datetime(2026, 3, 14, 10, 59, 30, tzinfo=UTC)


def imported_record(order: OrderSnapshot) -> OrderRecord:
    decision = POLICY.decide(order, None, PAID)
    assert [type(e) for e in decision.events] == [OrderImported]
    assert decision.record is not None
    return decision.record


def new_address(order: OrderSnapshot) -> OrderSnapshot:
    assert order.delivery is not None
    assert order.delivery.address is not None
    address = dataclasses.replace(order.delivery.address, street="Długa 1", postal_code="31-147")
    return dataclasses.replace(
        order,
        revision="b0b0b0b0",
        updated_at=LATER,
        delivery=dataclasses.replace(order.delivery, address=address),
    )


def only(decision: Decision) -> OrderUpdated:
    [event] = decision.events
    assert isinstance(event, OrderUpdated)
    return event


def test_an_address_change_publishes_one_order_updated_naming_the_address() -> None:
    order = make_order_snapshot()
    record = imported_record(order)
    moved = new_address(order)

    decision = POLICY.decide(moved, record, MODIFIED)

    event = only(decision)
    assert event.changed == ("shipping_address",)
    assert event.shipping_address == ShippingAddress(
        name="Aleksandra Wiśniewska",
        company=None,
        street="Długa 1",
        city="Kraków",
        postal_code="31-147",
        country_code="PL",
        phone="+48601234567",
    )
    assert event.occurred_at == LATER  # the form's updatedAt, not the event's time
    assert event.external_id == order.id
    assert event.revision == "b0b0b0b0"
    assert decision.record is not None
    assert POLICY.decide(moved, decision.record, MODIFIED).events == ()  # said once


def test_the_record_keeps_digests_not_the_buyers_data() -> None:
    record = imported_record(make_order_snapshot())

    assert record.content is not None
    for clear in ("Ogrodowa", "Wiśniewska", "allegromail", "+48601234567", "Kraków"):
        assert clear not in record.content
    assert len(record.content) < 1024


def test_a_revision_that_changes_only_updated_at_publishes_nothing() -> None:
    order = make_order_snapshot()
    record = imported_record(order)
    resaved = dataclasses.replace(order, revision="c1c1c1c1", updated_at=LATER)

    assert POLICY.decide(resaved, record, MODIFIED).events == ()


def test_a_paid_surcharge_names_the_surcharges_and_the_new_total() -> None:
    order = make_order_snapshot()
    record = imported_record(order)
    top_up = Payment(
        id="5c3b8f0e-0000-4000-8000-000000000009",
        type="ONLINE",
        provider="P24",
        finished_at=LATER,
        paid_amount=pln("12.50"),
    )
    topped = dataclasses.replace(
        order,
        revision="d2d2d2d2",
        updated_at=LATER,
        surcharges=(top_up,),
        total_to_pay=pln("93.47"),
    )

    event = only(POLICY.decide(topped, record, PAID))

    assert event.changed == ("surcharges", "total_to_pay")
    assert event.total_to_pay == Decimal("93.47")
    assert event.surcharges == (top_up,)
    assert event.total_amount == Decimal("80.97")  # the main payment is unchanged


def test_a_status_change_with_no_content_change_is_only_a_status_change() -> None:
    order = make_order_snapshot()
    record = imported_record(order)
    sent = dataclasses.replace(order, revision="e3e3e3e3", fulfillment_status="SENT")

    [event] = POLICY.decide(sent, record, MODIFIED).events

    assert isinstance(event, OrderStatusChanged)


def test_a_status_and_a_content_change_seen_together_publish_both() -> None:
    order = make_order_snapshot()
    record = imported_record(order)
    both = dataclasses.replace(new_address(order), fulfillment_status="PROCESSING")

    events = POLICY.decide(both, record, MODIFIED).events

    assert [type(e) for e in events] == [OrderStatusChanged, OrderUpdated]
    assert isinstance(events[1], OrderUpdated)
    assert events[1].changed == ("shipping_address",)


def test_an_order_recorded_before_fingerprints_gets_one_without_an_event() -> None:
    order = make_order_snapshot()
    legacy = dataclasses.replace(imported_record(order), content=None)
    moved = new_address(order)

    decision = POLICY.decide(moved, legacy, MODIFIED)

    assert decision.events == ()  # an upgrade must not report every order as updated
    assert decision.record is not None
    assert decision.record.content is not None
    later = dataclasses.replace(moved, revision="f4f4f4f4", message_to_seller="Zadzwonię.")
    assert only(POLICY.decide(later, decision.record, MODIFIED)).changed == ("notes",)


def test_an_order_updated_is_the_same_whichever_path_revealed_it() -> None:
    order = make_order_snapshot()
    record = imported_record(order)
    moved = new_address(order)
    sweep = Revelation("RECONCILIATION", LATER + timedelta(hours=5))

    by_journal = only(POLICY.decide(moved, record, MODIFIED))
    by_sweep = only(POLICY.decide(moved, record, sweep))

    assert by_sweep == by_journal  # id, time and content: replays and sweeps give the same bytes


def test_the_event_id_follows_the_content_not_only_the_revision() -> None:
    order = make_order_snapshot()
    record = imported_record(order)
    moved = new_address(order)
    elsewhere = dataclasses.replace(
        moved, delivery=dataclasses.replace(make_delivery(), address=None)
    )

    first = only(POLICY.decide(moved, record, MODIFIED))
    second = only(POLICY.decide(elsewhere, record, MODIFIED))

    assert first.revision == second.revision
    assert first.event_id != second.event_id


def test_new_fields_are_taken_from_the_form() -> None:
    window = TimeWindow(LATER, LATER + timedelta(days=1))
    order = make_order_snapshot(
        fulfillment_provider="ALLEGRO",
        line_items_sent="NONE",
        delivery=dataclasses.replace(make_delivery(), dispatch=window),
    )

    [event] = POLICY.decide(order, None, PAID).events

    assert isinstance(event, OrderImported)
    assert event.fulfillment_provider == "ALLEGRO"
    assert event.line_items_sent == "NONE"
    assert event.payment_id == "16a02f51-ea25-11f1-9c2e-02fc00000002"
    assert event.payment_provider == "P24"
    assert event.buyer_id == order.buyer.id
    assert event.total_to_pay == Decimal("80.97")
    assert event.dispatch_by == LATER + timedelta(days=1)  # the end of the dispatch window
