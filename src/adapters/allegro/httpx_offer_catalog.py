"""`OfferCatalog` over `GET /sale/offers` (Allegro's API reference: the seller's offer list).

A SKU is an offer's `external.id`. Allegro takes at most 100 `external.id` values in one
request, each at most 100 characters: the SKUs are asked for in sorted chunks of 100 (the
same SKUs give the same requests), and a longer one is never sent (no offer can carry it).
Every chunk's answers are paged through with the largest page Allegro gives (1 000).

A page that cannot be read (not JSON, not a listing, more offers than asked for) fails as a
whole with `MalformedResponse`, a `MalformedBody` that is also an outage: the caller backs off
and asks again. One listed offer that cannot be read (a field of the wrong type, a stock past
an int32, an amount Money refuses) is skipped and logged, and the rest of the page is used: it
would fail every page it is on for as long as it stays so. Skipped, its SKU finds no offer
(`UNKNOWN_SKU`), and a sweep compares nothing for it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

import httpx
from pydantic import ValidationError

from adapters.allegro.api import AllegroApi, validate_body
from adapters.allegro.errors import MalformedResponse
from adapters.allegro.identifiers import describe
from adapters.allegro.translate import validation_reason
from adapters.allegro.translate_offers import listed_offer
from adapters.allegro.wire_offers import LISTED_OFFER, OFFERS_PAGE
from application.ports.offers import ListedOffer, OfferCatalog, OfferPage
from domain.errors import InvalidValue
from domain.offers import MAX_SKU

log = logging.getLogger(__name__)

OFFERS = "/sale/offers"
SKUS_PER_REQUEST = 100  # Allegro's limit on `external.id` values per request
PAGE_SIZE = 1000  # Allegro's largest `limit`
MAX_OFFSET = 9_999_999  # Allegro's largest `offset`
OFFSET_WINDOW = 10_000_000  # offset + limit may not pass it
# 100 000 offers for 100 SKUs: a thousand offers a SKU, far past any seller's. A listing that
# goes on past it is broken (or hostile), and would otherwise be read for 10 000 pages.
MAX_PAGES_PER_CHUNK = 100


class HttpxOfferCatalog(OfferCatalog):
    def __init__(self, api: AllegroApi) -> None:
        self._api = api

    async def find_by_skus(self, skus: Collection[str]) -> Sequence[ListedOffer]:
        wanted = sorted({sku for sku in skus if 0 < len(sku) <= MAX_SKU})
        found: dict[str, ListedOffer] = {}
        for start in range(0, len(wanted), SKUS_PER_REQUEST):
            chunk = wanted[start : start + SKUS_PER_REQUEST]
            asked = set(chunk)
            for offset in range(0, MAX_PAGES_PER_CHUNK * PAGE_SIZE, PAGE_SIZE):
                page = await self._page(offset, PAGE_SIZE, chunk)
                for offer in page.offers:
                    # Only what was asked for: an offer listed under another SKU (or none)
                    # is not the answer to this question.
                    if offer.sku in asked:
                        found.setdefault(offer.offer_id, offer)  # pages may shift: once each
                if len(page.offers) < PAGE_SIZE or offset + PAGE_SIZE >= page.total:
                    break
            else:
                raise MalformedResponse(
                    f"Allegro {OFFERS}: more than {MAX_PAGES_PER_CHUNK * PAGE_SIZE} offers for "
                    f"{len(chunk)} SKUs (totalCount {page.total})"
                )
        return list(found.values())

    async def list_page(self, offset: int, limit: int) -> OfferPage:
        if not 1 <= limit <= PAGE_SIZE:
            raise ValueError(f"limit must be within 1..{PAGE_SIZE}, got {limit}")
        if not 0 <= offset <= MAX_OFFSET or offset + limit > OFFSET_WINDOW:
            raise ValueError(
                f"offset must be within 0..{MAX_OFFSET} and offset + limit at most "
                f"{OFFSET_WINDOW}, got {offset} + {limit}"
            )
        return await self._page(offset, limit, ())

    async def _page(self, offset: int, limit: int, skus: Sequence[str]) -> OfferPage:
        # `external.id` repeats, one value each (a Mapping of QueryParams keeps them all).
        pairs = [("offset", str(offset)), ("limit", str(limit))]
        params = httpx.QueryParams([*pairs, *(("external.id", sku) for sku in skus)])
        response = await self._api.request("GET", OFFERS, OFFERS, params=params)
        body = validate_body(OFFERS_PAGE, response, OFFERS)
        if len(body["offers"]) > limit:
            raise MalformedResponse(
                f"Allegro {OFFERS}: {len(body['offers'])} offers on a page of {limit}"
            )
        offers = tuple(
            offer for offer in (_listed(entry) for entry in body["offers"]) if offer is not None
        )
        return OfferPage(offers=offers, total=body["totalCount"])


def _listed(entry: Any) -> ListedOffer | None:
    """One listed offer, or None (logged: its id when it has one, and why) if it cannot be
    read."""
    try:
        return listed_offer(LISTED_OFFER.validate_python(entry))
    except ValidationError as exc:
        why = validation_reason(exc)
    except InvalidValue as exc:
        why = f"invalid value: {exc}"
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        why = f"unreadable ({type(exc).__name__})"
    found = entry.get("id") if isinstance(entry, dict) else None
    log.warning(
        "a listed offer cannot be read, skipped",
        extra={"offer_id": describe(found), "error": why[:300]},
    )
    return None
