import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.events import OrderImported, OrderStatusChanged, event_id
from domain.mapping import StatusTriple
from domain.policy import ImportPolicy, ImportTrigger, OrderRecord, Revelation
from domain.statuses import OrderStatus, PaymentStatus
from tests.support.builders import (
    PAID_AT,
    make_cod_payment,
    make_line_item,
    make_order_snapshot,
    make_payment,
    pln,
)

SEEN = Revelation("READY_FOR_PROCESSING", datetime(2026, 3, 14, 9, 15, 22, tzinfo=UTC), True)
POLICY = ImportPolicy(account="shop-1")
UNPAID = make_payment(finished_at=None, paid_amount=None)


def imported(order, policy=POLICY, revelation=SEEN) -> OrderImported:
    decision = policy.decide(order, None, revelation)
    assert len(decision.events) == 1
    event = decision.events[0]
    assert isinstance(event, OrderImported)
    return event


def test_paid_order_is_imported_with_the_mapping_table_fields():
    order = make_order_snapshot()

    event = imported(order)

    assert event.external_id == order.id
    assert event.customer_name == "ola_w_ogrodzie"
    assert event.customer_email == "k7qhd2mzpa+4c1e9b07@allegromail.pl"
    assert event.total_amount == Decimal("80.97")
    assert event.currency == "PLN"
    assert [(i.offer_id, i.quantity, i.unit_price.amount) for i in event.line_items] == [
        ("17034458812", 2, Decimal("35.99"))
    ]
    assert event.order_status is OrderStatus.NEW
    assert event.payment_status is PaymentStatus.PAID
    assert event.fulfillment_status == "NEW"
    assert event.invoice_requested is True
    assert event.shipping_address is not None
    assert event.shipping_address.postal_code == "30-001"
    assert event.paid_at == PAID_AT
    assert event.occurred_at == PAID_AT
    assert event.delivery_cost == Decimal("8.99")
    assert event.notes == "Proszę o zapakowanie na prezent."


def test_cash_on_delivery_takes_total_to_pay_and_its_currency():
    order = make_order_snapshot(
        payment=make_cod_payment(), total_to_pay=dataclasses.replace(pln("219.00"), currency="CZK")
    )

    event = imported(order)

    assert (event.total_amount, event.currency) == (Decimal("219.00"), "CZK")
    assert event.payment_status is PaymentStatus.CASH_ON_DELIVERY
    assert event.paid_at is None


def test_invoice_not_requested_gives_no_invoice_block():
    order = make_order_snapshot(invoice=None)

    event = imported(order)

    assert (event.invoice_requested, event.invoice) == (False, None)


def test_ordered_at_is_the_latest_line_item_purchase():
    late = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)
    order = make_order_snapshot(
        line_items=(make_line_item(), make_line_item(id="other", bought_at=late))
    )

    assert imported(order).ordered_at == late


@pytest.mark.parametrize("status", ["BOUGHT", "FILLED_IN"])
def test_unpaid_orders_wait_for_the_trigger(status):
    order = make_order_snapshot(status=status, payment=UNPAID)

    decision = POLICY.decide(order, None, Revelation("BOUGHT", PAID_AT))

    assert decision.events == ()
    assert decision.record is None


def test_bought_trigger_imports_unpaid_orders():
    policy = ImportPolicy(account="shop-1", trigger=ImportTrigger.BOUGHT)
    order = make_order_snapshot(status="BOUGHT", payment=None)

    event = imported(order, policy, Revelation("BOUGHT", PAID_AT))

    assert (event.order_status, event.payment_status) == (OrderStatus.NEW, PaymentStatus.PENDING)


def test_unpaid_order_cancelled_before_the_trigger_publishes_nothing():
    order = make_order_snapshot(status="CANCELLED", payment=UNPAID)

    decision = POLICY.decide(order, None, Revelation("AUTO_CANCELLED", PAID_AT))

    assert decision.events == ()


def test_paid_order_first_seen_cancelled_is_imported_as_cancelled():
    order = make_order_snapshot(status="CANCELLED")

    event = imported(order, revelation=Revelation("BUYER_CANCELLED", PAID_AT))

    assert (event.order_status, event.payment_status) == (
        OrderStatus.CANCELLED,
        PaymentStatus.PAID,
    )


def test_imported_order_publishes_a_status_change_once():
    first = make_order_snapshot()
    record = POLICY.decide(first, None, SEEN).record
    sent = make_order_snapshot(revision="7c20d5b1", fulfillment_status="SENT")
    reveal = Revelation("FULFILLMENT_STATUS_CHANGED", datetime(2026, 3, 14, 10, 2, tzinfo=UTC))

    decision = POLICY.decide(sent, record, reveal)

    [changed] = decision.events
    assert isinstance(changed, OrderStatusChanged)
    assert (changed.previous_status, changed.order_status) == (
        OrderStatus.NEW,
        OrderStatus.SHIPPED,
    )
    assert (changed.previous_fulfillment_status, changed.fulfillment_status) == ("NEW", "SENT")
    assert changed.reason == "FULFILLMENT_STATUS_CHANGED"
    assert changed.occurred_at == reveal.occurred_at
    assert POLICY.decide(sent, decision.record, reveal).events == ()


def test_same_triple_at_a_new_revision_publishes_nothing():
    record = OrderRecord(
        "id-1", "aaaaaaaa", StatusTriple(OrderStatus.NEW, PaymentStatus.PAID, "NEW")
    )
    order = make_order_snapshot(id="id-1", revision="bbbbbbbb")

    assert POLICY.decide(order, record, SEEN).events == ()


def test_event_ids_are_deterministic_and_distinct():
    order = make_order_snapshot()

    assert imported(order).event_id == imported(order).event_id
    assert imported(order).event_id == event_id("shop-1", order.id, "3fa1c09e", "OrderImported")
    other_account = ImportPolicy(account="shop-2")
    assert imported(order, other_account).event_id != imported(order).event_id
    new_revision = make_order_snapshot(revision="ffffffff")
    assert imported(new_revision).event_id != imported(order).event_id
