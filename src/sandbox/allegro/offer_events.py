"""The offer event journal (`GET /sale/offer-events`): 24 h retention, opaque ids.

An id is the URL-safe base64 (no padding) of the event's microsecond timestamp written in
decimal, as Allegro's ids were seen to be; ids strictly increase with time. `from` is
exclusive. Choices where Allegro documents nothing (docs/allegro-api.md, What the
simulator reproduces, Offers): a `from` older than every retained event (it expired)
returns the retained events from the oldest; an id this journal never issued is a `400`;
a duplicate carries its original's id and content and sits right after it, so `from`
that id skips every copy.
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from sandbox.allegro.forms import Json
from sandbox.allegro.timefmt import iso_millis

EVENT_TYPES = (
    "OFFER_ACTIVATED",
    "OFFER_CHANGED",
    "OFFER_ENDED",
    "OFFER_STOCK_CHANGED",
    "OFFER_PRICE_CHANGED",
    "OFFER_ARCHIVED",
    "OFFER_BID_PLACED",
    "OFFER_BID_CANCELED",
    "OFFER_TRANSLATION_UPDATED",
    "OFFER_VISIBILITY_CHANGED",
    "OFFER_DELIVERY_COUNTRIES_BLOCKED",
)
MAX_ID_LENGTH = 256
_ID_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")


class BadEventId(ValueError):
    pass


def encode_id(stamp_us: int) -> str:
    return base64.urlsafe_b64encode(str(stamp_us).encode()).rstrip(b"=").decode()


def decode_id(event_id: str) -> int:
    """The timestamp an id stands for; BadEventId if it is not one of this journal's ids."""
    if not 0 < len(event_id) <= MAX_ID_LENGTH or not _ID_CHARS.match(event_id):
        raise BadEventId("malformed event id")
    try:
        raw = base64.urlsafe_b64decode(event_id + "=" * (-len(event_id) % 4))
    except (binascii.Error, ValueError):
        raise BadEventId("malformed event id") from None
    if not raw.isdigit() or len(raw) > 20 or encode_id(int(raw)) != event_id:
        raise BadEventId("malformed event id")
    return int(raw)


@dataclass(frozen=True, slots=True)
class OfferEvent:
    stamp: int
    type: str
    offer: Json  # never mutated once appended

    def render(self) -> Json:
        return {
            "id": encode_id(self.stamp),
            "occurredAt": iso_millis(self.stamp),
            "type": self.type,
            "offer": self.offer,
        }


class OfferJournal:
    def __init__(self, retention_us: int) -> None:
        self._retention_us = retention_us
        self._stamps: list[int] = []  # ascending; a duplicate repeats its original's stamp
        self._events: list[OfferEvent] = []
        self._last = 0  # the newest stamp ever issued, retained or not

    def __len__(self) -> int:
        return len(self._events)

    def append(self, event_type: str, offer: Json, now_us: int) -> str:
        # Several events can happen in one microsecond; ids must still strictly increase.
        stamp = max(now_us, self._last + 1)
        self._last = stamp
        self._stamps.append(stamp)
        self._events.append(OfferEvent(stamp, event_type, offer))
        return encode_id(stamp)

    def duplicate(self, event_id: str, now_us: int) -> None:
        """Deliver a retained event once more (KeyError if it is not retained)."""
        self._expire(now_us)
        stamp = decode_id(event_id)
        position = bisect_right(self._stamps, stamp)
        if position == 0 or self._stamps[position - 1] != stamp:
            raise KeyError(event_id)
        self._stamps.insert(position, stamp)
        self._events.insert(position, self._events[position - 1])

    def read(
        self, after: str | None, types: frozenset[str] | None, limit: int, now_us: int
    ) -> list[Json]:
        """Up to `limit` events after `after` (None: from the oldest retained), oldest first."""
        self._expire(now_us)
        start = 0 if after is None else self._position_after(decode_id(after))
        page = []
        for position in range(start, len(self._events)):
            event = self._events[position]
            if types is None or event.type in types:
                page.append(event.render())
                if len(page) >= limit:
                    break
        return page

    def retained(self, now_us: int) -> list[Json]:
        self._expire(now_us)
        return [event.render() for event in self._events]

    def _position_after(self, stamp: int) -> int:
        if not self._stamps:
            if stamp <= self._last:
                return 0  # issued once, expired since
            raise BadEventId("unknown event id")
        if stamp < self._stamps[0]:
            return 0  # expired (or older than the journal): the retained ones, oldest first
        position = bisect_right(self._stamps, stamp)
        if self._stamps[position - 1] != stamp:
            raise BadEventId("unknown event id")
        return position

    def _expire(self, now_us: int) -> None:
        cut = bisect_left(self._stamps, now_us - self._retention_us)
        if cut:
            del self._stamps[:cut]
            del self._events[:cut]
