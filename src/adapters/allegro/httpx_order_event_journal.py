"""`OrderEventJournal` over `GET /order/events` and `GET /order/event-stats`."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.allegro.api import AllegroApi, validate_body
from adapters.allegro.errors import MalformedResponse
from adapters.allegro.identifiers import MalformedIdentifier, event_id
from adapters.allegro.translate import journal_event
from adapters.allegro.wire import EVENT_STATS_BODY, EVENTS_PAGE
from application.ports.allegro import JOURNAL_PAGE_SIZE, JournalEvent, OrderEventJournal

EVENTS = "/order/events"
EVENT_STATS = "/order/event-stats"


class HttpxOrderEventJournal(OrderEventJournal):
    def __init__(self, api: AllegroApi) -> None:
        self._api = api

    async def fetch(self, after: str | None, limit: int) -> Sequence[JournalEvent]:
        if not 1 <= limit <= JOURNAL_PAGE_SIZE:
            raise ValueError(f"limit must be within 1..{JOURNAL_PAGE_SIZE}, got {limit}")
        params = {"limit": str(limit)}
        if after is not None:
            params["from"] = after
        response = await self._api.request("GET", EVENTS, EVENTS, params=params)
        page = validate_body(EVENTS_PAGE, response, EVENTS)
        try:
            return [journal_event(event) for event in page["events"]]
        except MalformedIdentifier as exc:  # an event id is the cursor: no way past it
            raise MalformedResponse(f"Allegro {EVENTS}: {exc}") from exc

    async def latest_event_id(self) -> str | None:
        response = await self._api.request("GET", EVENT_STATS, EVENT_STATS)
        stats = validate_body(EVENT_STATS_BODY, response, EVENT_STATS)
        if stats.latest_event is None:
            return None
        try:  # it becomes the cursor
            return event_id(stats.latest_event.id)
        except MalformedIdentifier as exc:
            raise MalformedResponse(f"Allegro {EVENT_STATS}: {exc}") from exc
