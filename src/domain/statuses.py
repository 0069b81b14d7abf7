"""Status vocabularies: Allegro's (as strings, because Allegro adds values) and OpenOMS's.

Allegro's values and what they mean: docs/allegro-api.md, Checkout form.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    """OpenOMS order statuses."""

    NEW = "new"
    CONFIRMED = "confirmed"
    PROCESSING = "processing"
    READY_TO_SHIP = "ready_to_ship"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CASH_ON_DELIVERY = "cash_on_delivery"


class AllegroStatus:
    """Allegro's `checkoutForm.status` values (kept as strings: unknown ones must not crash)."""

    BOUGHT = "BOUGHT"
    FILLED_IN = "FILLED_IN"
    READY_FOR_PROCESSING = "READY_FOR_PROCESSING"
    CANCELLED = "CANCELLED"
    ALL = frozenset({BOUGHT, FILLED_IN, READY_FOR_PROCESSING, CANCELLED})


class FulfillmentStatus:
    """Allegro's `fulfillment.status` values: the seller's own label, no state machine."""

    NEW = "NEW"
    PROCESSING = "PROCESSING"
    READY_FOR_SHIPMENT = "READY_FOR_SHIPMENT"
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    SENT = "SENT"
    PICKED_UP = "PICKED_UP"
    CANCELLED = "CANCELLED"
    SUSPENDED = "SUSPENDED"
    RETURNED = "RETURNED"


CASH_ON_DELIVERY = "CASH_ON_DELIVERY"
