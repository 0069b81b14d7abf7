"""Allegro's JSON for offers: the listing (`GET /sale/offers`), one offer (`GET
/sale/product-offers/{id}`), the offer event journal (`GET /sale/offer-events`) and the batch
commands' reports (`GeneralReport`) and tasks, as Allegro's API reference describes them.

Validated by pydantic-core straight from the response bytes, like the order bodies in wire.py.
Keys not declared here are ignored and every optional field takes both a missing key and an
explicit `null`; what is read is strict and bounded:
- ids have Allegro's shape (an offer id is decimal digits), so they can become URL paths,
  Kafka keys and database rows;
- a stock is an int32 of at least 0 (a JSON integer: not a string, a float or a boolean);
- enumerations (publication status, `endedBy`, event types, task status) are upper-case words:
  a value Allegro adds is kept as it came, one of another shape is refused;
- texts that end up in records (SKU, marketplace ids) hold no control characters (a NUL fails
  every PostgreSQL write), and lists and maps have a ceiling far above any real body.
Amounts stay text here; domain.money bounds them.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from pydantic import (
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    with_config,
)
from typing_extensions import TypedDict

from adapters.allegro.wire import UtcDatetime
from domain.offers import MARKETPLACE_PATTERN, MAX_OFFERS_PER_COMMAND, MAX_SKU, MAX_STOCK

_WIRE = ConfigDict(coerce_numbers_to_str=True, extra="ignore")

OFFER_ID_PATTERN = r"^[0-9]{1,20}$"
OfferId = Annotated[str, StringConstraints(pattern=OFFER_ID_PATTERN)]
# Allegro's offer event ids are opaque (at most 256 characters): visible ASCII only, as they
# become the journal cursor and a dead letter's key.
EVENT_ID_PATTERN = r"^[!-~]{1,256}$"
EventId = Annotated[StrictStr, StringConstraints(pattern=EVENT_ID_PATTERN)]
Enum = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
Marketplace = Annotated[str, StringConstraints(pattern=MARKETPLACE_PATTERN)]
# `external.id` is at most 100 characters (Allegro's limit); an empty one names no SKU.
Sku = Annotated[str, StringConstraints(max_length=MAX_SKU, pattern=r"^[^\x00-\x1f\x7f]*$")]
Stock = Annotated[StrictInt, Field(ge=0, le=MAX_STOCK)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_STOCK)]
MAX_MARKETPLACES = 32  # Allegro has five; a map far longer is not an offer's
MAX_LISTED_OFFERS = 1000  # `limit` is at most 1 000
MAX_EVENTS = 1000  # `limit` is at most 1 000
MAX_TASKS = MAX_OFFERS_PER_COMMAND  # one task per offer of a command


@with_config(_WIRE)
class PriceWire(TypedDict):
    amount: Annotated[str, StringConstraints(max_length=64)]
    currency: Annotated[str, StringConstraints(max_length=3)]


@with_config(_WIRE)
class SellingModeWire(TypedDict, total=False):
    price: PriceWire | None


@with_config(_WIRE)
class StockWire(TypedDict, total=False):
    available: Stock | None


@with_config(_WIRE)
class ExternalWire(TypedDict, total=False):
    id: Sku | None


@with_config(_WIRE)
class MarketplaceRefWire(TypedDict, total=False):
    id: Marketplace | None


@with_config(_WIRE)
class PublicationMarketplacesWire(TypedDict, total=False):
    base: MarketplaceRefWire | None


@with_config(_WIRE)
class PublicationWire(TypedDict):
    status: Enum
    endedBy: NotRequired[Enum | None]  # the full offer only
    marketplaces: NotRequired[PublicationMarketplacesWire | None]


@with_config(_WIRE)
class AdditionalMarketplaceWire(TypedDict, total=False):
    sellingMode: SellingModeWire | None


AdditionalMarketplaces = Annotated[
    dict[Marketplace, AdditionalMarketplaceWire | None], Field(max_length=MAX_MARKETPLACES)
]


@with_config(_WIRE)
class ListedOfferWire(TypedDict):
    """`OfferListingDto`: the fields a listed offer is compared by."""

    id: OfferId
    external: NotRequired[ExternalWire | None]
    stock: NotRequired[StockWire | None]
    sellingMode: NotRequired[SellingModeWire | None]
    publication: PublicationWire
    additionalMarketplaces: NotRequired[AdditionalMarketplaces | None]


@with_config(_WIRE)
class OffersPageWire(TypedDict):
    """Each listed offer is kept as it came and read on its own (`LISTED_OFFER`): one offer
    Allegro lists in a shape we cannot read is skipped, not a failed page (a page that always
    failed would hold the commands of every SKU on it, and a sweep, for good)."""

    offers: Annotated[list[Any], Field(max_length=MAX_LISTED_OFFERS)]
    totalCount: Annotated[StrictInt, Field(ge=0, le=10**12)]


@with_config(_WIRE)
class ProductOfferWire(ListedOfferWire):
    """`SaleProductOfferResponseV1`: the listed fields, `endedBy`, and when it last changed."""

    updatedAt: UtcDatetime


# --- /sale/offer-events -------------------------------------------------------------------


@with_config(_WIRE)
class EventOfferWire(TypedDict):
    id: OfferId


@with_config(_WIRE)
class OfferEventWire(TypedDict):
    """One journal entry as far as it is read: events carry no values, only the offer."""

    id: EventId
    occurredAt: UtcDatetime
    type: Enum
    offer: EventOfferWire


@with_config(_WIRE)
class OfferEventsWire(TypedDict):
    """Each entry is kept as it came and read on its own (an unreadable one is quarantined,
    not a failed page)."""

    offerEvents: Annotated[list[Any], Field(max_length=MAX_EVENTS)]


# --- batch commands -----------------------------------------------------------------------


@with_config(_WIRE)
class TaskCountWire(TypedDict):
    total: Count
    success: Count
    failed: Count


@with_config(_WIRE)
class GeneralReportWire(TypedDict):
    id: NotRequired[Annotated[str, StringConstraints(max_length=64)] | None]
    completedAt: NotRequired[UtcDatetime | None]
    taskCount: TaskCountWire


@with_config(_WIRE)
class TaskErrorWire(TypedDict, total=False):
    code: str | None
    message: str | None
    userMessage: str | None


@with_config(_WIRE)
class TaskWire(TypedDict):
    offer: EventOfferWire
    status: Enum
    # Allegro's words, cut short where they are read (translate_offers.py), not refused.
    message: NotRequired[str | None]
    errors: NotRequired[Annotated[list[TaskErrorWire], Field(max_length=100)] | None]


@with_config(_WIRE)
class TasksWire(TypedDict):
    tasks: Annotated[list[TaskWire], Field(max_length=MAX_TASKS)]


OFFERS_PAGE: TypeAdapter[OffersPageWire] = TypeAdapter(OffersPageWire)
LISTED_OFFER: TypeAdapter[ListedOfferWire] = TypeAdapter(ListedOfferWire)
PRODUCT_OFFER: TypeAdapter[ProductOfferWire] = TypeAdapter(ProductOfferWire)
OFFER_EVENTS_PAGE: TypeAdapter[OfferEventsWire] = TypeAdapter(OfferEventsWire)
OFFER_EVENT: TypeAdapter[OfferEventWire] = TypeAdapter(OfferEventWire)
GENERAL_REPORT: TypeAdapter[GeneralReportWire] = TypeAdapter(GeneralReportWire)
TASKS: TypeAdapter[TasksWire] = TypeAdapter(TasksWire)
