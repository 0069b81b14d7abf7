"""One fictional, fixed example of each message, for the AsyncAPI document and its tests."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from application.ports.publisher import DeadLetter
from domain.events import OrderImported, OrderStatusChanged, OrderUpdated, event_id
from domain.money import Money
from domain.offers import MarketPrice, OfferChanged, OfferSnapshot, decide_offer
from domain.order import (
    Buyer,
    DeliveryMethod,
    LineItem,
    LineItemTax,
    Payment,
    PickupPoint,
    PostalAddress,
    ShippingAddress,
)
from domain.statuses import OrderStatus, PaymentStatus

ACCOUNT = "my-shop"
CHECKOUT_FORM_ID = "29ab6d20-2e47-11ef-9b72-6d2b5a7f3c11"
REVISION = "f3a1c9d2"


def example_order_imported() -> OrderImported:
    return OrderImported(
        event_id=event_id(ACCOUNT, CHECKOUT_FORM_ID, REVISION, "OrderImported"),
        occurred_at=datetime(2024, 6, 18, 10, 15, 2, tzinfo=UTC),
        account=ACCOUNT,
        marketplace="allegro-pl",
        external_id=CHECKOUT_FORM_ID,
        revision=REVISION,
        customer_name="jan_kowalski",
        customer_email="8x3k2q+2a1b3c4d5@allegromail.pl",
        customer_phone="+48 500 600 700",
        buyer=Buyer(
            id="123456789",
            login="jan_kowalski",
            email="8x3k2q+2a1b3c4d5@allegromail.pl",
            guest=False,
            first_name="Jan",
            last_name="Kowalski",
        ),
        shipping_address=ShippingAddress(
            name="Jan Kowalski",
            company=None,
            street="ul. Przykładowa 12/3",
            city="Poznań",
            postal_code="60-001",
            country_code="PL",
            phone="+48 500 600 700",
        ),
        total_amount=Decimal("138.99"),
        currency="PLN",
        line_items=(
            LineItem(
                id="62ae57a7-0a1b-4c2d-9e3f-1a2b3c4d5e6f",
                offer_id="14183562147",
                offer_name="Kubek ceramiczny 350 ml",
                sku="KUB-350-BIA",
                quantity=2,
                unit_price=Money(Decimal("59.50"), "PLN"),
                original_unit_price=Money(Decimal("70"), "PLN"),
                bought_at=datetime(2024, 6, 18, 10, 12, 44, tzinfo=UTC),
                tax=LineItemTax(rate="23.00", subject="GOODS", exemption=None),
            ),
        ),
        order_status=OrderStatus.NEW,
        payment_status=PaymentStatus.PAID,
        fulfillment_status="NEW",
        invoice_requested=False,
        invoice=None,
        payment_method="ONLINE",
        paid_at=datetime(2024, 6, 18, 10, 13, 30, tzinfo=UTC),
        ordered_at=datetime(2024, 6, 18, 10, 12, 44, tzinfo=UTC),
        delivery_method=DeliveryMethod(
            id="b20ef9e1-faa2-4f25-9455-f2c2e3f6d2e7", name="Allegro Paczkomaty InPost"
        ),
        pickup_point=PickupPoint(
            id="POZ08A",
            name="Paczkomat POZ08A",
            description="Przy sklepie",
            address=PostalAddress(
                street="ul. Główna 1", city="Poznań", postal_code="60-002", country_code="PL"
            ),
        ),
        delivery_cost=Decimal("19.99"),
        notes="Proszę o staranne zapakowanie.",
        fulfillment_provider="SELLER",
        dispatch_by=datetime(2024, 6, 19, 22, 59, 59, tzinfo=UTC),
        total_to_pay=Decimal("138.99"),
        surcharges=(),
        payment_id="3a6e1f70-2d8b-11ef-8c4e-9b1f2a3c4d5e",
        payment_provider="P24",
        buyer_id="123456789",
        line_items_sent="NONE",
    )


def example_order_updated() -> OrderUpdated:
    """The order of `example_order_imported` after the buyer paid a surcharge (a top-up)."""
    imported = example_order_imported()
    revision = "9d4b2e07"
    surcharge = Payment(
        id="6c1d0b42-2e9a-11ef-a7d3-4f5e6a7b8c9d",
        type="ONLINE",
        provider="P24",
        finished_at=datetime(2024, 6, 18, 16, 40, 11, tzinfo=UTC),
        paid_amount=Money(Decimal("15.00"), "PLN"),
    )
    fields = {
        field.name: getattr(imported, field.name)
        for field in dataclasses.fields(imported)
        if field.name not in ("event_id", "occurred_at", "revision", "total_to_pay", "surcharges")
    }
    return OrderUpdated(
        # the recipe's last part is the content fingerprint (domain.policy); any fixed text
        # stands for it in an example
        event_id=event_id(ACCOUNT, CHECKOUT_FORM_ID, revision, "OrderUpdated", "example"),
        occurred_at=datetime(2024, 6, 18, 16, 40, 12, tzinfo=UTC),
        revision=revision,
        total_to_pay=Decimal("153.99"),
        surcharges=(surcharge,),
        changed=("surcharges", "total_to_pay"),
        **fields,
    )


def example_order_status_changed() -> OrderStatusChanged:
    revision = "7c0e55b1"
    return OrderStatusChanged(
        event_id=event_id(
            ACCOUNT, CHECKOUT_FORM_ID, revision, "OrderStatusChanged", "shipped", "paid", "SENT"
        ),
        occurred_at=datetime(2024, 6, 19, 8, 0, 0, tzinfo=UTC),
        account=ACCOUNT,
        marketplace="allegro-pl",
        external_id=CHECKOUT_FORM_ID,
        revision=revision,
        previous_status=OrderStatus.NEW,
        order_status=OrderStatus.SHIPPED,
        payment_status=PaymentStatus.PAID,
        fulfillment_status="SENT",
        previous_fulfillment_status="NEW",
        reason="FULFILLMENT_STATUS_CHANGED",
    )


def example_dead_letter() -> DeadLetter:
    return DeadLetter(
        account=ACCOUNT,
        checkout_form_id=CHECKOUT_FORM_ID,
        allegro_event_id="MTEzMjQzODU3NjkzNjA3NTE4MjYzMjQ4Mzg",
        raw_payload='{"id": "29ab6d20-2e47-11ef-9b72-6d2b5a7f3c11", "status": "UNHEARD_OF"}',
        error="unknown Allegro order status 'UNHEARD_OF'",
        attempts=5,
        failed_at=datetime(2024, 6, 18, 10, 20, 0, tzinfo=UTC),
    )


OFFER_ID = "14183562147"  # the offer of the order's line item
SKU = "KUB-350-BIA"


def example_offer_changed() -> OfferChanged:
    """The mug's offer after its stock ran out: Allegro ended it (empty stock)."""
    snapshot = OfferSnapshot(
        offer_id=OFFER_ID,
        sku=SKU,
        stock_available=0,
        prices=(
            MarketPrice("allegro-pl", Money(Decimal("59.50"), "PLN")),
            MarketPrice("allegro-cz", Money(Decimal("349.00"), "CZK")),
        ),
        publication_status="ENDED",
        ended_by="EMPTY_STOCK",
        updated_at=datetime(2024, 6, 20, 9, 30, 0, tzinfo=UTC),
    )
    event, _record = decide_offer(ACCOUNT, snapshot, None, "MTEzMjQzODU3NjkzNjA3NTE4MjYzMjQ5MA")
    assert event is not None  # no record before: always published
    return event
