"""Allegro status pair -> OpenOMS (order_status, payment_status, fulfillment_status).

The default table is the one in README.md (Messages); operators may override the
fulfillment column (e.g. map SENT to in_transit) through configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from domain.errors import UnmappableOrder
from domain.order import OrderSnapshot
from domain.statuses import AllegroStatus, FulfillmentStatus, OrderStatus, PaymentStatus

_DEFAULT_FULFILLMENT: Mapping[str, OrderStatus] = MappingProxyType(
    {
        FulfillmentStatus.NEW: OrderStatus.NEW,
        FulfillmentStatus.PROCESSING: OrderStatus.PROCESSING,
        FulfillmentStatus.READY_FOR_SHIPMENT: OrderStatus.READY_TO_SHIP,
        FulfillmentStatus.READY_FOR_PICKUP: OrderStatus.READY_TO_SHIP,
        FulfillmentStatus.SENT: OrderStatus.SHIPPED,
        FulfillmentStatus.PICKED_UP: OrderStatus.DELIVERED,
        FulfillmentStatus.SUSPENDED: OrderStatus.ON_HOLD,
        FulfillmentStatus.CANCELLED: OrderStatus.CANCELLED,
        FulfillmentStatus.RETURNED: OrderStatus.REFUNDED,
    }
)


@dataclass(frozen=True, slots=True)
class StatusTriple:
    order_status: OrderStatus
    payment_status: PaymentStatus
    fulfillment_status: str | None


@dataclass(frozen=True, slots=True)
class StatusMapping:
    """Maps a paid order's `fulfillment.status` to an OpenOMS status."""

    fulfillment: Mapping[str, OrderStatus] = field(default_factory=lambda: _DEFAULT_FULFILLMENT)

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, str]) -> StatusMapping:
        """Table with some rows replaced; raises ValueError naming a bad key or value."""
        table = dict(_DEFAULT_FULFILLMENT)
        for allegro_value, openoms_value in overrides.items():
            try:
                table[allegro_value.upper()] = OrderStatus(openoms_value.lower())
            except ValueError as exc:
                raise ValueError(
                    f"unknown OpenOMS status {openoms_value!r} for {allegro_value!r}"
                ) from exc
        return cls(MappingProxyType(table))

    def derive(
        self, order: OrderSnapshot, previous_payment: PaymentStatus | None = None
    ) -> StatusTriple:
        status = order.status
        if status == AllegroStatus.CANCELLED:
            payment = previous_payment or _payment_status(order, paid_stage=False)
            return StatusTriple(OrderStatus.CANCELLED, payment, order.fulfillment_status)
        if status in (AllegroStatus.BOUGHT, AllegroStatus.FILLED_IN):
            return StatusTriple(OrderStatus.NEW, PaymentStatus.PENDING, order.fulfillment_status)
        if status == AllegroStatus.READY_FOR_PROCESSING:
            fulfillment = order.fulfillment_status or FulfillmentStatus.NEW
            try:
                order_status = self.fulfillment[fulfillment]
            except KeyError:
                raise UnmappableOrder(
                    f"unknown fulfillment status {fulfillment!r} (not in the status mapping)"
                ) from None
            payment = _payment_status(order, paid_stage=True)
            return StatusTriple(order_status, payment, order.fulfillment_status)
        raise UnmappableOrder(f"unknown Allegro order status {status!r}")


def _payment_status(order: OrderSnapshot, *, paid_stage: bool) -> PaymentStatus:
    if order.is_cash_on_delivery:
        return PaymentStatus.CASH_ON_DELIVERY if paid_stage else PaymentStatus.PENDING
    if order.is_paid or paid_stage:
        return PaymentStatus.PAID
    return PaymentStatus.PENDING
