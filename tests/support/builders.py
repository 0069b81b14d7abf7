"""Builders with overrides for domain objects: `make_order_snapshot(status=...)`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from application.ports.publisher import DeadLetter
from domain.events import OrderImported, OrderStatusChanged, event_id
from domain.money import Money
from domain.order import (
    Buyer,
    Delivery,
    DeliveryMethod,
    Invoice,
    LineItem,
    OrderSnapshot,
    Payment,
    PickupPoint,
    PostalAddress,
    ShippingAddress,
    TaxId,
)
from domain.statuses import OrderStatus, PaymentStatus

BOUGHT_AT = datetime(2026, 3, 14, 9, 12, 40, 118000, tzinfo=UTC)
PAID_AT = datetime(2026, 3, 14, 9, 15, 20, 902000, tzinfo=UTC)


def pln(amount: str) -> Money:
    return Money(Decimal(amount), "PLN")


def make_line_item(**overrides: Any) -> LineItem:
    item = LineItem(
        id="15da6138-ea25-11f1-8f11-02fc00000001",
        offer_id="17034458812",
        offer_name="Konewka ogrodowa 10 l zielona z sitkiem",
        sku="KON-10L-GR",
        quantity=2,
        unit_price=pln("35.99"),
        original_unit_price=pln("39.99"),
        bought_at=BOUGHT_AT,
    )
    return dataclasses.replace(item, **overrides)


def make_payment(**overrides: Any) -> Payment:
    payment = Payment(
        id="16a02f51-ea25-11f1-9c2e-02fc00000002",
        type="ONLINE",
        provider="P24",
        finished_at=PAID_AT,
        paid_amount=pln("80.97"),
    )
    return dataclasses.replace(payment, **overrides)


def make_cod_payment() -> Payment:
    return make_payment(type="CASH_ON_DELIVERY", provider=None, paid_amount=None)


def make_delivery(**overrides: Any) -> Delivery:
    delivery = Delivery(
        address=ShippingAddress(
            name="Aleksandra Wiśniewska",
            company=None,
            street="Ogrodowa 14/3",
            city="Kraków",
            postal_code="30-001",
            country_code="PL",
            phone="+48601234567",
        ),
        method=DeliveryMethod("2488f7b7-5d1c-4d65-b85c-4cbcf253fd93", "Allegro Paczkomaty InPost"),
        pickup_point=PickupPoint(
            id="KRA112M",
            name="Paczkomat KRA112M",
            description="Przy sklepie spożywczym",
            address=PostalAddress("Długa 40", "Kraków", "31-147", "PL"),
        ),
        cost=pln("8.99"),
    )
    return dataclasses.replace(delivery, **overrides)


def make_invoice(**overrides: Any) -> Invoice:
    invoice = Invoice(
        required=True,
        company_name="Zielony Zakątek Sp. z o.o.",
        tax_ids=(TaxId("PL_NIP", "6762451198"),),
        vat_payer_status="ACTIVE",
        natural_person_first_name=None,
        natural_person_last_name=None,
        address=PostalAddress("Ogrodowa 14/3", "Kraków", "30-001", "PL"),
    )
    return dataclasses.replace(invoice, **overrides)


def make_buyer(**overrides: Any) -> Buyer:
    buyer = Buyer(
        id="5968875",
        login="ola_w_ogrodzie",
        email="k7qhd2mzpa+4c1e9b07@allegromail.pl",
        guest=False,
        first_name="Aleksandra",
        last_name="Wiśniewska",
        company_name="Zielony Zakątek Sp. z o.o.",
        phone="+48601234567",
    )
    return dataclasses.replace(buyer, **overrides)


def make_order_snapshot(**overrides: Any) -> OrderSnapshot:
    """A paid, new order (shaped as docs/allegro-api.md, Checkout form), fields overridable."""
    order = OrderSnapshot(
        id="15d9e2a0-ea25-11f1-8f11-02fc00000001",
        revision="3fa1c09e",
        status="READY_FOR_PROCESSING",
        fulfillment_status="NEW",
        marketplace="allegro-pl",
        buyer=make_buyer(),
        payment=make_payment(),
        delivery=make_delivery(),
        invoice=make_invoice(),
        line_items=(make_line_item(),),
        total_to_pay=pln("80.97"),
        message_to_seller="Proszę o zapakowanie na prezent.",
        updated_at=datetime(2026, 3, 14, 9, 15, 21, 330000, tzinfo=UTC),
    )
    return dataclasses.replace(order, **overrides)


def make_order_imported(**overrides: Any) -> OrderImported:
    """The OrderImported of `make_order_snapshot()`; `event_id` follows account/id/revision."""
    buyer, delivery = make_buyer(), make_delivery()
    fields: dict[str, Any] = {
        "occurred_at": datetime(2026, 3, 14, 9, 15, 21, 330000, tzinfo=UTC),
        "account": "default",
        "marketplace": "allegro-pl",
        "external_id": "15d9e2a0-ea25-11f1-8f11-02fc00000001",
        "revision": "3fa1c09e",
        "customer_name": buyer.login,
        "customer_email": buyer.email,
        "customer_phone": buyer.phone,
        "buyer": buyer,
        "shipping_address": delivery.address,
        "total_amount": Decimal("80.97"),
        "currency": "PLN",
        "line_items": (make_line_item(),),
        "order_status": OrderStatus.NEW,
        "payment_status": PaymentStatus.PAID,
        "fulfillment_status": "NEW",
        "invoice_requested": True,
        "invoice": make_invoice(),
        "payment_method": "ONLINE",
        "paid_at": PAID_AT,
        "ordered_at": BOUGHT_AT,
        "delivery_method": delivery.method,
        "pickup_point": delivery.pickup_point,
        "delivery_cost": Decimal("8.99"),
        "notes": "Proszę o zapakowanie na prezent.",
    } | overrides
    fields.setdefault(
        "event_id",
        event_id(fields["account"], fields["external_id"], fields["revision"], "OrderImported"),
    )
    return OrderImported(**fields)


def make_order_status_changed(**overrides: Any) -> OrderStatusChanged:
    """The order of `make_order_imported()` marked as sent; `event_id` follows the fields."""
    fields: dict[str, Any] = {
        "occurred_at": datetime(2026, 3, 15, 11, 2, 7, tzinfo=UTC),
        "account": "default",
        "marketplace": "allegro-pl",
        "external_id": "15d9e2a0-ea25-11f1-8f11-02fc00000001",
        "revision": "8b20d4f1",
        "previous_status": OrderStatus.NEW,
        "order_status": OrderStatus.SHIPPED,
        "payment_status": PaymentStatus.PAID,
        "fulfillment_status": "SENT",
        "previous_fulfillment_status": "NEW",
        "reason": "FULFILLMENT_STATUS_CHANGED",
    } | overrides
    fields.setdefault(
        "event_id",
        event_id(
            fields["account"],
            fields["external_id"],
            fields["revision"],
            "OrderStatusChanged",
            str(fields["order_status"]),
            str(fields["payment_status"]),
            fields["fulfillment_status"] or "",
        ),
    )
    return OrderStatusChanged(**fields)


def make_dead_letter(**overrides: Any) -> DeadLetter:
    letter = DeadLetter(
        account="default",
        checkout_form_id="15d9e2a0-ea25-11f1-8f11-02fc00000001",
        allegro_event_id="1773479698020318",
        raw_payload='{"id": "15d9e2a0-ea25-11f1-8f11-02fc00000001", "status": "UNHEARD_OF"}',
        error="unknown Allegro order status 'UNHEARD_OF'",
        attempts=5,
        failed_at=datetime(2026, 3, 14, 9, 20, 0, tzinfo=UTC),
    )
    return dataclasses.replace(letter, **overrides)


def make_order_with_line_items(count: int, **overrides: Any) -> OrderImported:
    """`make_order_imported()` with `count` distinct line items (about 250 bytes each once
    encoded): thousands of them make a record over Kafka's 1 MB."""
    items = tuple(
        make_line_item(id=f"15da6138-ea25-11f1-8f11-{n:012d}", offer_id=str(17034458812 + n))
        for n in range(count)
    )
    return make_order_imported(line_items=items, **overrides)
