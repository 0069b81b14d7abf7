"""The order event journal: ids are strictly increasing microsecond timestamps."""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sandbox.allegro.forms import Json
from sandbox.allegro.timefmt import iso_millis


@dataclass(frozen=True, slots=True)
class JournalEvent:
    id: int
    type: str
    order_id: str
    revision: str
    base: Json  # shared per checkout form, never mutated (see forms.snapshot_base)

    def render(self) -> Json:
        base = self.base
        return {
            "id": str(self.id),
            "type": self.type,
            "occurredAt": iso_millis(self.id),
            "order": {
                "seller": base["seller"],
                "buyer": base["buyer"],
                "lineItems": base["lineItems"],
                "checkoutForm": {"id": self.order_id, "revision": self.revision},
                "marketplace": base["marketplace"],
            },
        }


class EventJournal:
    def __init__(self) -> None:
        self._ids: list[int] = []  # every id ever appended, ascending
        self._by_type: dict[str, list[int]] = {}
        self._events: dict[int, JournalEvent] = {}  # retained, not dropped
        self._floor = 0  # ids below this have expired
        self._last = 0

    def __len__(self) -> int:
        return len(self._events)

    def append(self, event_type: str, order_id: str, revision: str, base: Json, now_us: int) -> int:
        # Several events can happen in one microsecond; ids must still strictly increase.
        event_id = max(now_us, self._last + 1)
        self._last = event_id
        self._ids.append(event_id)
        self._by_type.setdefault(event_type, []).append(event_id)
        self._events[event_id] = JournalEvent(event_id, event_type, order_id, revision, base)
        return event_id

    def read(
        self, after: int | None, types: set[str] | None, limit: int, floor_us: int
    ) -> list[JournalEvent]:
        """Up to `limit` events with id > after, oldest first, skipping expired ones."""
        low = max(after if after is not None else -1, self._floor - 1, floor_us - 1)
        if types is None:
            ids: Iterable[int] = self._tail(self._ids, low)
        else:
            ids = heapq.merge(*(self._tail(self._by_type.get(t, []), low) for t in types))
        result = []
        for event_id in ids:
            event = self._events.get(event_id)
            if event is not None:
                result.append(event)
                if len(result) >= limit:
                    break
        return result

    @staticmethod
    def _tail(ids: list[int], after: int) -> Iterator[int]:
        for pos in range(bisect_right(ids, after), len(ids)):
            yield ids[pos]

    def latest(self, floor_us: int) -> JournalEvent | None:
        for pos in range(len(self._ids) - 1, -1, -1):
            event_id = self._ids[pos]
            if event_id < max(self._floor, floor_us):
                return None
            event = self._events.get(event_id)
            if event is not None:
                return event
        return None

    def drop(self, event_ids: Iterable[int]) -> None:
        for event_id in event_ids:
            self._events.pop(event_id, None)

    def expire_before(self, event_id: int) -> None:
        """Forget everything older than `event_id`, as 60 days of retention would."""
        for pos in range(bisect_right(self._ids, self._floor - 1), len(self._ids)):
            old = self._ids[pos]
            if old >= event_id:
                break
            self._events.pop(old, None)
        self._floor = max(self._floor, event_id)

    def retained(self, floor_us: int) -> list[JournalEvent]:
        return self.read(None, None, len(self._events) or 1, floor_us)
