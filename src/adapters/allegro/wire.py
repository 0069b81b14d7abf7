"""Allegro's JSON as pydantic models: camelCase lives here and in translate.py only.

Every field the specification does not require is optional and accepts both an explicit
`null` and a missing key; enumerations are plain strings because Allegro adds values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


def _assume_utc(value: datetime) -> datetime:
    """Allegro's times are UTC: a value without an offset is read as UTC (not local time),
    and every value carries `datetime.UTC` itself (not pydantic's own tzinfo class)."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:30+01:00: pydantic wants a ValueError
        raise ValueError(f"date-time out of range: {value!r}") from exc


UtcDatetime = Annotated[datetime, AfterValidator(_assume_utc)]


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        coerce_numbers_to_str=True,
    )


class MoneyWire(WireModel):
    amount: str
    currency: str


# --- /order/events and /order/event-stats ------------------------------------------------


class CheckoutFormRefWire(WireModel):
    id: str
    revision: str | None = None


class OrderEventDataWire(WireModel):
    checkout_form: CheckoutFormRefWire | None = None
    # Only the purchase times are needed, read leniently in translate.py: a journal page of
    # 1 000 events must not pay for validating every line item, nor fail because of one.
    line_items: Any = None


class OrderEventWire(WireModel):
    id: str
    type: str
    occurred_at: UtcDatetime
    order: OrderEventDataWire | None = None


class OrderEventsWire(WireModel):
    events: list[OrderEventWire]


class LatestEventWire(WireModel):
    id: str
    occurred_at: UtcDatetime | None = None


class OrderEventStatsWire(WireModel):
    latest_event: LatestEventWire | None = None


# --- /order/checkout-forms/{id} ------------------------------------------------------------


class BuyerWire(WireModel):
    id: str
    email: str
    login: str
    guest: bool | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    phone_number: str | None = None


class PaymentWire(WireModel):
    id: str | None = None
    type: str | None = None
    provider: str | None = None
    finished_at: UtcDatetime | None = None
    paid_amount: MoneyWire | None = None


class FulfillmentWire(WireModel):
    status: str | None = None


class DeliveryAddressWire(WireModel):
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    street: str | None = None
    city: str | None = None
    zip_code: str | None = None
    country_code: str | None = None
    phone_number: str | None = None


class AddressWire(WireModel):
    street: str | None = None
    city: str | None = None
    zip_code: str | None = None
    country_code: str | None = None


class DeliveryMethodWire(WireModel):
    id: str | None = None
    name: str | None = None


class PickupPointWire(WireModel):
    id: str | None = None
    name: str | None = None
    description: str | None = None
    address: AddressWire | None = None


class DeliveryWire(WireModel):
    address: DeliveryAddressWire | None = None
    method: DeliveryMethodWire | None = None
    pickup_point: PickupPointWire | None = None
    cost: MoneyWire | None = None


class TaxIdWire(WireModel):
    type: str
    value: str


class InvoiceCompanyWire(WireModel):
    name: str | None = None
    ids: list[TaxIdWire] | None = None
    vat_payer_status: str | None = None
    tax_id: str | None = None  # deprecated by Allegro in favour of `ids`


class NaturalPersonWire(WireModel):
    first_name: str | None = None
    last_name: str | None = None


class InvoiceAddressWire(AddressWire):
    company: InvoiceCompanyWire | None = None
    natural_person: NaturalPersonWire | None = None


class InvoiceWire(WireModel):
    required: bool | None = None
    address: InvoiceAddressWire | None = None


class OfferExternalWire(WireModel):
    id: str | None = None


class OfferWire(WireModel):
    id: str
    name: str | None = None
    external: OfferExternalWire | None = None


class LineItemWire(WireModel):
    id: str
    offer: OfferWire
    quantity: int
    price: MoneyWire
    original_price: MoneyWire | None = None
    bought_at: UtcDatetime | None = None


class MarketplaceWire(WireModel):
    id: str | None = None


class SummaryWire(WireModel):
    total_to_pay: MoneyWire


class CheckoutFormWire(WireModel):
    id: str
    status: str
    buyer: BuyerWire
    line_items: list[LineItemWire]
    summary: SummaryWire
    message_to_seller: str | None = None
    payment: PaymentWire | None = None
    fulfillment: FulfillmentWire | None = None
    delivery: DeliveryWire | None = None
    invoice: InvoiceWire | None = None
    marketplace: MarketplaceWire | None = None
    updated_at: UtcDatetime | None = None
    revision: str | None = None


class CheckoutFormsWire(WireModel):
    """The list envelope; items stay raw so one bad form never fails the page."""

    checkout_forms: list[Any]
    total_count: int
    count: int | None = None


# --- errors and OAuth (snake_case bodies) ----------------------------------------------------


class ErrorWire(WireModel):
    code: str | None = None
    message: str | None = None
    user_message: str | None = None


class ErrorsHolderWire(WireModel):
    errors: list[ErrorWire] | None = None


class OAuthErrorWire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    error: str
    error_description: str | None = None


class DeviceAuthorizationWire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None = None
    expires_in: float = 3600.0
    interval: float | None = None
