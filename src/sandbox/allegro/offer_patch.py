"""`PATCH /sale/product-offers/{offerId}`: stock, prices and publication of one offer.

The body is any subset of the offer; the simulator reads `stock.available`,
`sellingMode.price`, `additionalMarketplaces.<id>.sellingMode.price` and
`publication.status` (ACTIVE or ENDED) and ignores the rest. The whole body is validated
before anything changes (`422` naming the field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sandbox.allegro.errors import validation_error
from sandbox.allegro.offer_commands import CommandRejected
from sandbox.allegro.offers import (
    BASE_MARKETPLACE,
    CURRENCIES,
    MAX_STOCK,
    Offer,
    OfferBook,
    OfferRejected,
    parse_amount,
)


@dataclass(frozen=True, slots=True)
class OfferPatch:
    stock: int | None = None
    prices: dict[str, Decimal] = field(default_factory=dict)  # marketplace -> amount
    status: str | None = None  # ACTIVE or ENDED


def _invalid(message: str, path: str) -> CommandRejected:
    return CommandRejected(422, validation_error(message, path))


def _price(raw: object, marketplace: str, path: str) -> Decimal:
    if not isinstance(raw, dict):
        raise _invalid("price must be an object {amount, currency}", path)
    try:
        amount = parse_amount(raw.get("amount"))
    except ValueError as exc:
        raise _invalid(str(exc), f"{path}.amount") from None
    if raw.get("currency") != CURRENCIES[marketplace]:
        raise _invalid(f"The currency on {marketplace} is {CURRENCIES[marketplace]}", path)
    return amount


def parse_patch(body: dict[str, Any]) -> OfferPatch:
    stock = None
    if body.get("stock") is not None:
        raw = body["stock"].get("available") if isinstance(body["stock"], dict) else None
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_STOCK:
            raise _invalid(f"available must be an integer within 0..{MAX_STOCK}", "stock.available")
        stock = raw
    prices: dict[str, Decimal] = {}
    selling = body.get("sellingMode")
    if isinstance(selling, dict) and selling.get("price") is not None:
        prices[BASE_MARKETPLACE] = _price(selling["price"], BASE_MARKETPLACE, "sellingMode.price")
    additional = body.get("additionalMarketplaces")
    if additional is not None:
        if not isinstance(additional, dict):
            raise _invalid("additionalMarketplaces must be an object", "additionalMarketplaces")
        for marketplace, entry in additional.items():
            path = f"additionalMarketplaces.{str(marketplace)[:40]}"
            if marketplace not in CURRENCIES or marketplace == BASE_MARKETPLACE:
                raise _invalid("Unknown marketplace", path)
            price = entry.get("sellingMode", {}).get("price") if isinstance(entry, dict) else None
            if price is not None:
                prices[marketplace] = _price(price, marketplace, f"{path}.sellingMode.price")
    status = None
    publication = body.get("publication")
    if isinstance(publication, dict) and publication.get("status") is not None:
        status = publication["status"]
        if status not in ("ACTIVE", "ENDED"):
            raise _invalid("status must be ACTIVE or ENDED", "publication.status")
    return OfferPatch(stock, prices, status)


def check(offer: Offer, patch: OfferPatch) -> None:
    """Refusals that depend on the offer, before anything changes."""
    for marketplace in patch.prices:
        if marketplace not in offer.prices:
            raise _invalid(
                f"The offer is not offered on the marketplace {marketplace}.",
                "additionalMarketplaces",
            )
    stock = offer.available if patch.stock is None else patch.stock
    if patch.status == "ACTIVE" and stock < 1:
        raise _invalid("The offer cannot be activated: its quantity is 0.", "publication.status")
    if patch.status == "ENDED" and offer.status == "INACTIVE":
        raise _invalid("A draft (INACTIVE) offer cannot be ended.", "publication.status")


def apply_patch(book: OfferBook, offer: Offer, patch: OfferPatch, now_us: int) -> None:
    """Stock first (0 on an active offer ends it: EMPTY_STOCK), then prices, then the
    publication status. `check` must have passed."""
    try:
        if patch.stock is not None:
            book.set_stock(offer, patch.stock, now_us)
        for marketplace, amount in patch.prices.items():
            book.set_price(offer, marketplace, amount, now_us)
        if patch.status == "ENDED":
            book.end(offer, "USER", now_us)
        elif patch.status == "ACTIVE":
            book.activate(offer, now_us)
    except OfferRejected as exc:  # `check` rules these out; kept as a clear answer anyway
        raise _invalid(exc.message, "offer") from None
