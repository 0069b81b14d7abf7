"""`OfferEventJournal` over `GET /sale/offer-events` and `GET /sale/product-offers/{id}`
(Allegro's API reference: the offer event journal keeps 24 hours; events carry no values, so
the offer is read again).

An entry of the journal is read on its own: one that is not an event of an offer comes out
as an `UnreadableOfferEvent` (as it came, bounded) and the page goes on. The page's
`last_id` is the next cursor, so it is the id of the last entry that has one of Allegro's
shape: entries after it without a readable id are left out of the page (there is no id to
pass them by) and come again with the next read, to be quarantined once a readable entry
follows them. A page only of such entries reads as an empty page.

An offer body that cannot be read (not JSON, wrong types, a stock past an int32, an unknown
enumeration of another shape, larger than the body limit, another offer's) is an
`UnreadableOffer` with the body as it came (bounded); 404 is `OfferNotFound`.
"""

from __future__ import annotations

from adapters.allegro.api import AllegroApi, validate_body
from adapters.allegro.errors import OversizeBody
from adapters.allegro.identifiers import describe
from adapters.allegro.translate_offers import event_id, offer_event, read_offer, unreadable_offer
from adapters.allegro.wire_offers import MAX_EVENTS, OFFER_EVENTS_PAGE
from application.ports.errors import AllegroRejected, MalformedBody
from application.ports.offers import (
    OfferEvent,
    OfferEventJournal,
    OfferEventPage,
    OfferNotFound,
    UnreadableOffer,
    UnreadableOfferEvent,
)
from domain.offers import OfferSnapshot, is_offer_id

OFFER_EVENTS = "/sale/offer-events"
PRODUCT_OFFER = "/sale/product-offers/{id}"
MAX_CURSOR_CHARS = 256  # Allegro's limit on `from`


class HttpxOfferEventJournal(OfferEventJournal):
    def __init__(self, api: AllegroApi) -> None:
        self._api = api

    async def events(self, after: str | None, limit: int) -> OfferEventPage:
        if not 1 <= limit <= MAX_EVENTS:
            raise ValueError(f"limit must be within 1..{MAX_EVENTS}, got {limit}")
        params = {"limit": str(limit)}
        if after is not None:
            if not 0 < len(after) <= MAX_CURSOR_CHARS:
                raise ValueError(f"a cursor is 1..{MAX_CURSOR_CHARS} characters")
            params["from"] = after
        response = await self._api.request("GET", OFFER_EVENTS, OFFER_EVENTS, params=params)
        entries = validate_body(OFFER_EVENTS_PAGE, response, OFFER_EVENTS)["offerEvents"]
        ids = [event_id(entry) for entry in entries]
        last = max((n for n, found in enumerate(ids) if found is not None), default=-1)
        events: list[OfferEvent] = []
        unreadable: list[UnreadableOfferEvent] = []
        for entry in entries[: last + 1]:
            read = offer_event(entry)
            if isinstance(read, OfferEvent):
                events.append(read)
            else:
                unreadable.append(read)
        return OfferEventPage(
            events=tuple(events),
            unreadable=tuple(unreadable),
            last_id=ids[last] if last >= 0 else None,
        )

    async def offer(self, offer_id: str) -> OfferSnapshot | UnreadableOffer:
        if not is_offer_id(offer_id):  # never a path of another resource
            return UnreadableOffer(describe(offer_id), "", "not an offer id (decimal digits)")
        path = f"/sale/product-offers/{offer_id}"
        try:
            response = await self._api.request("GET", PRODUCT_OFFER, path)
        except AllegroRejected as exc:
            if exc.status_code == 404:
                raise OfferNotFound(str(exc), 404, exc.code) from exc
            raise
        except MalformedBody as exc:  # oversize, or a body that does not decode
            head = exc.head if isinstance(exc, OversizeBody) else b""
            return unreadable_offer(offer_id, head, str(exc))
        return read_offer(offer_id, response.content)
