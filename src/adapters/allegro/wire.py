"""Allegro's JSON as pydantic types: camelCase lives here and in translate.py only.

Every field Allegro's OpenAPI file does not require is optional and accepts both an explicit
`null` and a missing key (real payloads carry both); enumerations are plain strings because
Allegro adds values (docs/allegro-api.md, General conventions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, NotRequired

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, with_config
from pydantic.alias_generators import to_camel
from typing_extensions import TypedDict


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


# Orders, the hot path: TypedDicts with Allegro's own (camelCase) keys, validated by
# pydantic-core straight from the response bytes (`TypeAdapter.validate_json`): decoding
# with `json` first and validating into model instances would build every value twice (the
# cost is in docs/performance.md); keys not declared here are skipped, never built.

_WIRE = ConfigDict(coerce_numbers_to_str=True, extra="ignore")


@with_config(_WIRE)
class MoneyWire(TypedDict):
    amount: str
    currency: str


# --- /order/events and /order/event-stats ------------------------------------------------


@with_config(_WIRE)
class CheckoutFormRefWire(TypedDict):
    id: str
    revision: NotRequired[str | None]


@with_config(_WIRE)
class PurchaseTimeWire(TypedDict):
    """A journal event's line item: only its purchase time is read (leniently, in
    translate.py): a page of 1 000 events must not pay for the rest, nor fail because of it."""

    boughtAt: NotRequired[Any]


@with_config(_WIRE)
class OrderEventDataWire(TypedDict):
    checkoutForm: NotRequired[CheckoutFormRefWire | None]
    # Anything but a list of objects is kept as it came and read as "no purchase time".
    lineItems: NotRequired[
        Annotated[list[PurchaseTimeWire] | Any, Field(union_mode="left_to_right")]
    ]


@with_config(_WIRE)
class OrderEventWire(TypedDict):
    id: str
    type: str
    occurredAt: UtcDatetime
    order: NotRequired[OrderEventDataWire | None]


@with_config(_WIRE)
class OrderEventsWire(TypedDict):
    events: list[OrderEventWire]


class LatestEventWire(WireModel):
    id: str
    occurred_at: UtcDatetime | None = None


class OrderEventStatsWire(WireModel):
    latest_event: LatestEventWire | None = None


# --- /order/checkout-forms/{id} ------------------------------------------------------------


@with_config(_WIRE)
class ContactWire(TypedDict, total=False):
    """Who a buyer or a delivery address names: every part optional."""

    firstName: str | None
    lastName: str | None
    companyName: str | None
    phoneNumber: str | None


@with_config(_WIRE)
class BuyerWire(ContactWire):
    """`personalIdentity` (a national id number) is left undeclared on purpose: it is never
    read, so it cannot reach anything published (README.md, Messages)."""

    id: str
    email: str
    login: str
    guest: NotRequired[bool | None]


@with_config(_WIRE)
class PaymentWire(TypedDict, total=False):
    id: str | None
    type: str | None
    provider: str | None
    finishedAt: UtcDatetime | None
    paidAmount: MoneyWire | None


@with_config(_WIRE)
class FulfillmentProviderWire(TypedDict, total=False):
    id: str | None


@with_config(_WIRE)
class ShipmentSummaryWire(TypedDict, total=False):
    lineItemsSent: str | None


@with_config(_WIRE)
class FulfillmentWire(TypedDict, total=False):
    status: str | None
    provider: FulfillmentProviderWire | None
    shipmentSummary: ShipmentSummaryWire | None


@with_config(_WIRE)
class AddressWire(TypedDict, total=False):
    street: str | None
    city: str | None
    zipCode: str | None
    countryCode: str | None


@with_config(_WIRE)
class DeliveryAddressWire(AddressWire, ContactWire, total=False):
    """`delivery.address`: a postal address and whom it names."""


@with_config(_WIRE)
class DeliveryMethodWire(TypedDict, total=False):
    id: str | None
    name: str | None


@with_config(_WIRE)
class PickupPointWire(TypedDict, total=False):
    id: str | None
    name: str | None
    description: str | None
    address: AddressWire | None


# `from` is a Python keyword: the functional form names the key as Allegro does.
TimeWindowWire = TypedDict(
    "TimeWindowWire", {"from": UtcDatetime | None, "to": UtcDatetime | None}, total=False
)
with_config(_WIRE)(TimeWindowWire)


@with_config(_WIRE)
class DeliveryTimeWire(TypedDict, total=False):
    """`delivery.time`: only the dispatch window is read (the delivery window is not)."""

    dispatch: TimeWindowWire | None


@with_config(_WIRE)
class DeliveryWire(TypedDict, total=False):
    address: DeliveryAddressWire | None
    method: DeliveryMethodWire | None
    pickupPoint: PickupPointWire | None
    cost: MoneyWire | None
    time: DeliveryTimeWire | None


@with_config(_WIRE)
class TaxIdWire(TypedDict):
    type: str
    value: str


@with_config(_WIRE)
class InvoiceCompanyWire(TypedDict, total=False):
    name: str | None
    ids: list[TaxIdWire] | None
    vatPayerStatus: str | None
    taxId: str | None  # deprecated by Allegro in favour of `ids`


@with_config(_WIRE)
class NaturalPersonWire(TypedDict, total=False):
    firstName: str | None
    lastName: str | None


@with_config(_WIRE)
class InvoiceAddressWire(AddressWire, total=False):
    company: InvoiceCompanyWire | None
    naturalPerson: NaturalPersonWire | None


@with_config(_WIRE)
class InvoiceWire(TypedDict, total=False):
    required: bool | None
    address: InvoiceAddressWire | None


@with_config(_WIRE)
class OfferExternalWire(TypedDict, total=False):
    id: str | None


@with_config(_WIRE)
class OfferWire(TypedDict):
    id: str
    name: NotRequired[str | None]
    external: NotRequired[OfferExternalWire | None]


@with_config(_WIRE)
class LineItemTaxWire(TypedDict, total=False):
    rate: str | None
    subject: str | None
    exemption: str | None


@with_config(_WIRE)
class LineItemWire(TypedDict):
    id: str
    offer: OfferWire
    quantity: int
    price: MoneyWire
    originalPrice: NotRequired[MoneyWire | None]
    boughtAt: NotRequired[UtcDatetime | None]
    tax: NotRequired[LineItemTaxWire | None]


@with_config(_WIRE)
class MarketplaceWire(TypedDict, total=False):
    id: str | None


@with_config(_WIRE)
class SummaryWire(TypedDict):
    totalToPay: MoneyWire


@with_config(_WIRE)
class CheckoutFormWire(TypedDict):
    id: str
    status: str
    buyer: BuyerWire
    lineItems: list[LineItemWire]
    summary: SummaryWire
    messageToSeller: NotRequired[str | None]
    payment: NotRequired[PaymentWire | None]
    surcharges: NotRequired[list[PaymentWire] | None]  # each of the shape of `payment`
    fulfillment: NotRequired[FulfillmentWire | None]
    delivery: NotRequired[DeliveryWire | None]
    invoice: NotRequired[InvoiceWire | None]
    marketplace: NotRequired[MarketplaceWire | None]
    updatedAt: NotRequired[UtcDatetime | None]
    revision: NotRequired[str | None]


@dataclass(frozen=True, slots=True)
class ListedForm:
    """A list item that validated as a checkout form (see `CheckoutFormsWire`)."""

    form: CheckoutFormWire


@with_config(_WIRE)
class CheckoutFormsWire(TypedDict):
    """The list envelope. Each item is validated on its own: one that is a checkout form
    comes out as a `ListedForm`, any other is kept exactly as it came (an `Any`), so one bad
    form never fails the page and can still be read again on its own."""

    checkoutForms: list[
        Annotated[
            Annotated[CheckoutFormWire, AfterValidator(ListedForm)] | Any,
            Field(union_mode="left_to_right"),
        ]
    ]
    totalCount: int
    count: NotRequired[int | None]


EVENTS_PAGE: TypeAdapter[OrderEventsWire] = TypeAdapter(OrderEventsWire)
EVENT_STATS_BODY: TypeAdapter[OrderEventStatsWire] = TypeAdapter(OrderEventStatsWire)
CHECKOUT_FORM: TypeAdapter[CheckoutFormWire] = TypeAdapter(CheckoutFormWire)
CHECKOUT_FORMS_PAGE: TypeAdapter[CheckoutFormsWire] = TypeAdapter(CheckoutFormsWire)


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
