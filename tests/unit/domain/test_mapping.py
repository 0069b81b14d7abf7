from decimal import Decimal

import pytest

from domain.errors import InvalidValue, UnmappableOrder
from domain.mapping import StatusMapping, StatusTriple
from domain.money import Money
from domain.statuses import OrderStatus, PaymentStatus
from tests.support.builders import make_cod_payment, make_order_snapshot, make_payment

PAID = make_payment()
COD = make_cod_payment()
UNPAID = make_payment(finished_at=None, paid_amount=None)

# README.md, Messages: the status table, row by row.
STATUS_TABLE = [
    # (status, fulfillment, payment) -> (order_status, payment_status)
    ("BOUGHT", None, None, OrderStatus.NEW, PaymentStatus.PENDING),
    ("FILLED_IN", None, UNPAID, OrderStatus.NEW, PaymentStatus.PENDING),
    ("READY_FOR_PROCESSING", None, PAID, OrderStatus.NEW, PaymentStatus.PAID),
    ("READY_FOR_PROCESSING", "NEW", PAID, OrderStatus.NEW, PaymentStatus.PAID),
    ("READY_FOR_PROCESSING", "NEW", COD, OrderStatus.NEW, PaymentStatus.CASH_ON_DELIVERY),
    ("READY_FOR_PROCESSING", "PROCESSING", PAID, OrderStatus.PROCESSING, PaymentStatus.PAID),
    (
        "READY_FOR_PROCESSING",
        "READY_FOR_SHIPMENT",
        PAID,
        OrderStatus.READY_TO_SHIP,
        PaymentStatus.PAID,
    ),
    ("READY_FOR_PROCESSING", "READY_FOR_PICKUP", COD, OrderStatus.READY_TO_SHIP, "cod"),
    ("READY_FOR_PROCESSING", "SENT", PAID, OrderStatus.SHIPPED, PaymentStatus.PAID),
    ("READY_FOR_PROCESSING", "PICKED_UP", PAID, OrderStatus.DELIVERED, PaymentStatus.PAID),
    ("READY_FOR_PROCESSING", "SUSPENDED", PAID, OrderStatus.ON_HOLD, PaymentStatus.PAID),
    ("READY_FOR_PROCESSING", "CANCELLED", PAID, OrderStatus.CANCELLED, PaymentStatus.PAID),
    ("READY_FOR_PROCESSING", "RETURNED", PAID, OrderStatus.REFUNDED, PaymentStatus.PAID),
    ("CANCELLED", "NEW", PAID, OrderStatus.CANCELLED, PaymentStatus.PAID),
    ("CANCELLED", "PROCESSING", UNPAID, OrderStatus.CANCELLED, PaymentStatus.PENDING),
    ("CANCELLED", None, None, OrderStatus.CANCELLED, PaymentStatus.PENDING),
]


@pytest.mark.parametrize(
    ("status", "fulfillment", "payment", "order_status", "payment_status"), STATUS_TABLE
)
def test_status_table(status, fulfillment, payment, order_status, payment_status):
    if payment_status == "cod":
        payment_status = PaymentStatus.CASH_ON_DELIVERY
    order = make_order_snapshot(status=status, fulfillment_status=fulfillment, payment=payment)

    triple = StatusMapping().derive(order)

    assert triple == StatusTriple(order_status, payment_status, fulfillment)


def test_cancelled_keeps_the_payment_status_published_before():
    order = make_order_snapshot(status="CANCELLED", payment=COD)

    triple = StatusMapping().derive(order, previous_payment=PaymentStatus.CASH_ON_DELIVERY)

    assert triple.payment_status is PaymentStatus.CASH_ON_DELIVERY


@pytest.mark.parametrize(
    ("status", "fulfillment"), [("LOST_IN_SPACE", None), ("READY_FOR_PROCESSING", "TELEPORTED")]
)
def test_unknown_values_are_unmappable_not_a_crash(status, fulfillment):
    order = make_order_snapshot(status=status, fulfillment_status=fulfillment)

    with pytest.raises(UnmappableOrder, match="unknown"):
        StatusMapping().derive(order)


def test_operators_override_a_row():
    mapping = StatusMapping.with_overrides({"sent": "IN_TRANSIT"})
    order = make_order_snapshot(fulfillment_status="SENT")

    assert mapping.derive(order).order_status is OrderStatus.IN_TRANSIT
    assert StatusMapping().derive(order).order_status is OrderStatus.SHIPPED


def test_override_with_unknown_openoms_status_is_refused():
    with pytest.raises(ValueError, match="shipped_by_owl"):
        StatusMapping.with_overrides({"SENT": "shipped_by_owl"})


@pytest.mark.parametrize("amount", ["70", "70.00", "123.45", "0.00", "2849.00"])
def test_money_parses_allegro_strings_exactly(amount):
    assert Money.parse(amount, "PLN").amount == Decimal(amount)
    assert str(Money.parse(amount, "PLN").amount) == amount


@pytest.mark.parametrize(
    ("amount", "currency"), [("12,50", "PLN"), ("NaN", "PLN"), ("1", "zł"), ("Infinity", "EUR")]
)
def test_money_rejects_garbage(amount, currency):
    with pytest.raises(InvalidValue):
        Money.parse(amount, currency)
