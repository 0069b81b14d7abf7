"""An order as read from Allegro's checkout form, in OpenOMS words.

The snapshot is the source of truth for every decision: journal events only say *which*
order to look at. Optional parts are `None` when Allegro sends `null` or omits them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidValue
from domain.money import Money
from domain.statuses import CASH_ON_DELIVERY


@dataclass(frozen=True, slots=True)
class PostalAddress:
    street: str | None
    city: str | None
    postal_code: str | None
    country_code: str | None


@dataclass(frozen=True, slots=True)
class ShippingAddress:
    name: str | None
    company: str | None
    street: str | None
    city: str | None
    postal_code: str | None
    country_code: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class Buyer:
    id: str
    login: str
    email: str
    guest: bool
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    id: str | None
    type: str | None
    provider: str | None
    finished_at: datetime | None
    paid_amount: Money | None

    @property
    def is_cash_on_delivery(self) -> bool:
        return self.type == CASH_ON_DELIVERY


@dataclass(frozen=True, slots=True)
class DeliveryMethod:
    id: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class PickupPoint:
    id: str | None
    name: str | None
    description: str | None
    address: PostalAddress | None


@dataclass(frozen=True, slots=True)
class TimeWindow:
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    address: ShippingAddress | None
    method: DeliveryMethod | None
    pickup_point: PickupPoint | None
    cost: Money | None
    # The dispatch window Allegro passed to the carrier (`delivery.time.dispatch`): its end
    # is the ship-by deadline.
    dispatch: TimeWindow | None = None


@dataclass(frozen=True, slots=True)
class TaxId:
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class Invoice:
    required: bool
    company_name: str | None
    tax_ids: tuple[TaxId, ...]
    vat_payer_status: str | None
    natural_person_first_name: str | None
    natural_person_last_name: str | None
    address: PostalAddress | None


@dataclass(frozen=True, slots=True)
class LineItemTax:
    """As Allegro reports it (e.g. rate "23.00", subject "GOODS"): strings, each may be null."""

    rate: str | None
    subject: str | None
    exemption: str | None


@dataclass(frozen=True, slots=True)
class LineItem:
    id: str
    offer_id: str
    offer_name: str | None
    sku: str | None
    quantity: int
    unit_price: Money
    original_unit_price: Money | None
    bought_at: datetime | None
    tax: LineItemTax | None = None

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise InvalidValue(f"line item {self.id}: quantity must not be negative")


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    id: str
    revision: str | None
    status: str
    fulfillment_status: str | None
    marketplace: str | None
    buyer: Buyer
    payment: Payment | None
    delivery: Delivery | None
    invoice: Invoice | None
    line_items: tuple[LineItem, ...]
    total_to_pay: Money
    message_to_seller: str | None = None
    updated_at: datetime | None = None
    # `SELLER`, or `ALLEGRO` for One Fulfillment orders, shipped from Allegro's warehouse.
    fulfillment_provider: str | None = None
    line_items_sent: str | None = None  # `NONE`, `SOME`, `ALL`: lines with a tracking number
    surcharges: tuple[Payment, ...] = ()  # the buyer's top-ups, each a payment of its own

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidValue("checkout form id must not be empty")

    @property
    def ordered_at(self) -> datetime | None:
        """Allegro's order time: the latest line-item purchase."""
        times = [item.bought_at for item in self.line_items if item.bought_at is not None]
        return max(times) if times else None

    @property
    def is_paid(self) -> bool:
        return self.payment is not None and self.payment.paid_amount is not None

    @property
    def is_cash_on_delivery(self) -> bool:
        return self.payment is not None and self.payment.is_cash_on_delivery

    @property
    def charged(self) -> Money:
        """What the buyer pays: the paid amount, else the total to pay (e.g. cash on delivery)."""
        if self.payment is not None and self.payment.paid_amount is not None:
            return self.payment.paid_amount
        return self.total_to_pay
