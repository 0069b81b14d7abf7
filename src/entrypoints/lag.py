"""How far the cursor is behind Allegro's journal, for `/metrics` and `status`.

Event ids behave like microsecond timestamps, so the lag in seconds is the event time
between the cursor and the newest event that `/order/event-stats` reports. The lag in
events is counted by reading one page after the cursor (at most `cap` events): it costs a
request, so it is read only when the cursor is behind.

The same probe counts the orders waiting for a retry (the state store's failure rows, at
most `cap`): both are read on the same period, from the same store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from application.ports.allegro import OrderEventJournal
from application.ports.clock import Clock
from application.ports.state import Cursor, StateStore
from application.reconcile import cursor_time

PAGE = 1000  # Allegro's largest page of /order/events


@dataclass(frozen=True, slots=True)
class Lag:
    cursor: Cursor | None  # None: no cursor stored yet
    latest_event_id: str | None  # None: the journal is empty
    seconds: float | None  # None when a position is not a timestamp id
    events: int | None  # None without a stored cursor; `capped`: at least this many
    capped: bool
    measured_at: datetime
    waiting_retry: int | None = None  # checkout forms failing, not yet dead-lettered

    @property
    def caught_up(self) -> bool:
        return self.events == 0


class LagProbe:
    def __init__(
        self,
        journal: OrderEventJournal,
        state: StateStore,
        account: str,
        clock: Clock,
        cap: int = PAGE,
    ) -> None:
        self._journal = journal
        self._state = state
        self._account = account
        self._clock = clock
        self._cap = cap

    async def measure(self) -> Lag:
        cursor = await self._state.load_cursor(self._account)
        failing = await self._state.load_errors(self._account, self._cap)
        waiting = len(failing.failing_orders)
        latest = await self._journal.latest_event_id()
        now = self._clock.now()
        if cursor is None:
            return Lag(None, latest, None, None, False, now, waiting)
        if latest is None or cursor.position == latest:
            return Lag(cursor, latest, 0.0 if latest else None, 0, False, now, waiting)
        pending = await self._journal.fetch(cursor.position, self._cap)
        first = Cursor(pending[0].id) if pending else None
        start = cursor if cursor.position is not None else first
        return Lag(
            cursor=cursor,
            latest_event_id=latest,
            seconds=_seconds_between(start, Cursor(latest)),
            events=len(pending),
            capped=len(pending) >= self._cap,
            measured_at=now,
            waiting_retry=waiting,
        )


def _seconds_between(start: Cursor | None, end: Cursor) -> float | None:
    if start is None:
        return None
    begin, finish = cursor_time(start), cursor_time(end)
    if begin is None or finish is None:
        return None
    return max((finish - begin).total_seconds(), 0.0)
