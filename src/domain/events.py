"""Domain events published to OpenOMS. Past tense; ids are deterministic.

`event_id` is a UUIDv5 over (account, checkout form id, revision, event type[, triple]), so a
replay of the same revision yields the same id and consumers can deduplicate on it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from domain.mapping import StatusTriple
from domain.order import (
    Buyer,
    DeliveryMethod,
    Invoice,
    LineItem,
    Payment,
    PickupPoint,
    ShippingAddress,
)
from domain.statuses import OrderStatus, PaymentStatus

EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://openoms.org/integrations/allegro")
RECONCILIATION = "RECONCILIATION"


def event_id(
    account: str, checkout_form_id: str, revision: str | None, event_type: str, *extra: str
) -> uuid.UUID:
    name = "|".join((account, checkout_form_id, revision or "", event_type, *extra))
    return uuid.uuid5(EVENT_NAMESPACE, name)


@dataclass(frozen=True, slots=True)
class FullOrder:
    """The full current order, as `OrderImported` and `OrderUpdated` publish it."""

    event_id: uuid.UUID
    occurred_at: datetime
    account: str
    marketplace: str | None
    external_id: str
    revision: str | None
    customer_name: str
    customer_email: str
    customer_phone: str | None
    buyer: Buyer
    shipping_address: ShippingAddress | None
    total_amount: Decimal
    currency: str
    line_items: tuple[LineItem, ...]
    order_status: OrderStatus
    payment_status: PaymentStatus
    fulfillment_status: str | None
    invoice_requested: bool
    invoice: Invoice | None
    payment_method: str | None
    paid_at: datetime | None
    ordered_at: datetime | None
    delivery_method: DeliveryMethod | None
    pickup_point: PickupPoint | None
    delivery_cost: Decimal | None
    notes: str | None
    # Added within v1 (optional: contracts/COMPATIBILITY.md). A consumer that ships must
    # check `fulfillment_provider`: `ALLEGRO` orders leave Allegro's own warehouse.
    fulfillment_provider: str | None = None
    dispatch_by: datetime | None = None
    total_to_pay: Decimal | None = None
    surcharges: tuple[Payment, ...] = ()
    payment_id: str | None = None
    payment_provider: str | None = None
    buyer_id: str | None = None
    line_items_sent: str | None = None

    @property
    def triple(self) -> StatusTriple:
        return StatusTriple(self.order_status, self.payment_status, self.fulfillment_status)


@dataclass(frozen=True, slots=True)
class OrderImported(FullOrder):
    event_type: ClassVar[str] = "OrderImported"
    source: ClassVar[str] = "allegro"


@dataclass(frozen=True, slots=True)
class OrderUpdated(FullOrder):
    """An imported order whose content (anything published but the status triple) changed."""

    event_type: ClassVar[str] = "OrderUpdated"
    source: ClassVar[str] = "allegro"

    changed: tuple[str, ...] = ()  # the top-level fields that differ from the last published


@dataclass(frozen=True, slots=True)
class OrderStatusChanged:
    event_type: ClassVar[str] = "OrderStatusChanged"
    source: ClassVar[str] = "allegro"

    event_id: uuid.UUID
    occurred_at: datetime
    account: str
    marketplace: str | None
    external_id: str
    revision: str | None
    previous_status: OrderStatus
    order_status: OrderStatus
    payment_status: PaymentStatus
    fulfillment_status: str | None
    previous_fulfillment_status: str | None
    reason: str


DomainEvent = OrderImported | OrderStatusChanged | OrderUpdated
