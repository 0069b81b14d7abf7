"""Allegro's offer JSON (wire_offers.py) -> the offer ports' types.

A listed or full offer's prices: the base marketplace's is `sellingMode.price` (on the
marketplace `publication.marketplaces.base.id` names), the others' are
`additionalMarketplaces.<id>.sellingMode.price`; a marketplace without a price (not approved
there yet) has none.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from adapters.allegro.translate import validation_reason
from adapters.allegro.wire_offers import (
    EVENT_ID_PATTERN,
    OFFER_EVENT,
    PRODUCT_OFFER,
    AdditionalMarketplaces,
    GeneralReportWire,
    ListedOfferWire,
    PriceWire,
    ProductOfferWire,
    PublicationWire,
    SellingModeWire,
    TaskWire,
)
from application.ports.offers import (
    CommandReport,
    ListedOffer,
    OfferEvent,
    TaskReport,
    UnreadableOffer,
    UnreadableOfferEvent,
)
from domain.errors import InvalidValue
from domain.money import Money
from domain.offers import MarketPrice, OfferSnapshot

# An offer that names no base marketplace is taken to be on allegro-pl: an assumption (Allegro's
# examples always name it), chosen because allegro-pl is the base marketplace of sellers
# registered on allegro.pl, the sellers this service is for.
DEFAULT_BASE_MARKETPLACE = "allegro-pl"
# What is kept of a body or an entry that cannot be read (for its dead letter).
MAX_RAW_OFFER_CHARS = 64 * 1024
MAX_RAW_EVENT_CHARS = 4096
# Allegro's words about a failed task go into a command result: printable, this short.
MAX_TASK_MESSAGE_CHARS = 300
MAX_TASK_CODE_CHARS = 100
ENDED = "ENDED"
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
# What else a hostile body can make the translation raise (see translate.py).
_UNEXPECTED = (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError)


def listed_offer(wire: ListedOfferWire) -> ListedOffer:
    """Raises `InvalidValue` for an amount or currency Money refuses."""
    publication = wire["publication"]
    return ListedOffer(
        offer_id=wire["id"],
        sku=_sku(wire),
        stock_available=_stock(wire),
        prices=_prices(wire.get("sellingMode"), publication, wire.get("additionalMarketplaces")),
        publication_status=publication["status"],
    )


def read_offer(offer_id: str, raw: bytes) -> OfferSnapshot | UnreadableOffer:
    """The full offer `offer_id` from its body, or why it cannot be read (with the body,
    bounded, as it came)."""
    try:
        wire = PRODUCT_OFFER.validate_json(raw)
        snapshot = offer_snapshot(wire)
    except ValidationError as exc:
        return unreadable_offer(offer_id, raw, validation_reason(exc))
    except InvalidValue as exc:
        return unreadable_offer(offer_id, raw, f"invalid value: {exc}")
    except _UNEXPECTED as exc:
        return unreadable_offer(offer_id, raw, f"unreadable ({type(exc).__name__})")
    if snapshot.offer_id != offer_id:
        return unreadable_offer(offer_id, raw, "the body is another offer's")
    return snapshot


def unreadable_offer(offer_id: str, raw: bytes, reason: str) -> UnreadableOffer:
    text = raw[: MAX_RAW_OFFER_CHARS * 4].decode(errors="replace")[:MAX_RAW_OFFER_CHARS]
    return UnreadableOffer(offer_id=offer_id, raw=text, reason=reason)


def offer_snapshot(wire: ProductOfferWire) -> OfferSnapshot:
    publication = wire["publication"]
    status = publication["status"]
    return OfferSnapshot(
        offer_id=wire["id"],
        sku=_sku(wire),
        stock_available=_stock(wire),
        prices=_prices(wire.get("sellingMode"), publication, wire.get("additionalMarketplaces")),
        publication_status=status,
        # Who ended the offer means something only while it is ended.
        ended_by=publication.get("endedBy") if status == ENDED else None,
        updated_at=wire["updatedAt"],
    )


def _sku(wire: ListedOfferWire) -> str | None:
    external = wire.get("external")
    return (external.get("id") if external else None) or None


def _stock(wire: ListedOfferWire) -> int | None:
    stock = wire.get("stock")
    return stock.get("available") if stock else None


def _prices(
    selling_mode: SellingModeWire | None,
    publication: PublicationWire,
    additional: AdditionalMarketplaces | None,
) -> tuple[MarketPrice, ...]:
    """The base marketplace's price first, then the others' by marketplace id."""
    marketplaces = publication.get("marketplaces")
    base_ref = marketplaces.get("base") if marketplaces else None
    base = (base_ref.get("id") if base_ref else None) or DEFAULT_BASE_MARKETPLACE
    prices: list[MarketPrice] = []
    base_price = selling_mode.get("price") if selling_mode else None
    if base_price:
        prices.append(MarketPrice(base, _money(base_price)))
    for marketplace in sorted(additional or {}):
        if marketplace == base:  # the base marketplace's price is `sellingMode.price`
            continue
        entry = (additional or {})[marketplace]
        mode = entry.get("sellingMode") if entry else None
        price = mode.get("price") if mode else None
        if price:
            prices.append(MarketPrice(marketplace, _money(price)))
    return tuple(prices)


def _money(wire: PriceWire) -> Money:
    return Money.parse(wire["amount"], wire["currency"])


# --- the offer event journal --------------------------------------------------------------


def offer_event(entry: Any) -> OfferEvent | UnreadableOfferEvent:
    """One entry of a page, as decoded: the event, or why not (with the entry as it came)."""
    try:
        wire = OFFER_EVENT.validate_python(entry)
    except ValidationError as exc:
        return UnreadableOfferEvent(event_id(entry), _raw_event(entry), validation_reason(exc))
    except _UNEXPECTED as exc:
        reason = f"unreadable ({type(exc).__name__})"
        return UnreadableOfferEvent(event_id(entry), _raw_event(entry), reason)
    return OfferEvent(
        event_id=wire["id"],
        occurred_at=wire["occurredAt"],
        event_type=wire["type"],
        offer_id=wire["offer"]["id"],
    )


def event_id(entry: Any) -> str | None:
    """The entry's id when it has the shape of one (it can then be passed as a cursor)."""
    value = entry.get("id") if isinstance(entry, dict) else None
    return value if isinstance(value, str) and _EVENT_ID.fullmatch(value) else None


def _raw_event(entry: Any) -> str:
    try:
        text = json.dumps(entry, ensure_ascii=False, default=str)
    except _UNEXPECTED:
        text = f"<unencodable {type(entry).__name__}>"
    return text[:MAX_RAW_EVENT_CHARS]


# --- batch commands -----------------------------------------------------------------------


def command_report(wire: GeneralReportWire) -> CommandReport:
    count = wire["taskCount"]
    return CommandReport(
        total=count["total"],
        success=count["success"],
        failed=count["failed"],
        completed=wire.get("completedAt") is not None,
    )


def task_report(wire: TaskWire) -> TaskReport:
    errors = wire.get("errors") or []
    first = errors[0] if errors else None
    message = wire.get("message") or (
        (first.get("message") or first.get("userMessage")) if first else None
    )
    return TaskReport(
        offer_id=wire["offer"]["id"],
        status=wire["status"],
        message=_printable(message, MAX_TASK_MESSAGE_CHARS),
        code=_printable(first.get("code") if first else None, MAX_TASK_CODE_CHARS),
    )


def _printable(text: str | None, limit: int) -> str | None:
    if not text:
        return None
    kept = "".join(c for c in text[: limit * 4] if c.isprintable())
    if len(kept) > limit:
        kept = kept[: limit - 3] + "..."
    return kept or None
