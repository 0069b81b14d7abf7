"""Keeps the journal honest: repairs a cursor older than the journal's retention and runs a
periodic light sweep for silent holes. Both feed the same idempotent decision path.

Allegro keeps order events for 60 days. A cursor older than that would silently skip
whatever expired; instead we take event-stats as a barrier, sweep the orders bought since
the cursor's time, and only then move the cursor to the barrier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from application.ports.allegro import OrderEventJournal
from application.ports.clock import Clock
from application.ports.state import Cursor, StateStore
from application.sweep import SweepCheckoutForms, SweepOutcome

log = logging.getLogger(__name__)

JOURNAL_RETENTION = timedelta(days=60)


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    account: str
    retention: timedelta = JOURNAL_RETENTION
    safety_margin: timedelta = timedelta(days=2)
    light_every: timedelta | None = timedelta(hours=1)  # None disables the light sweep
    light_lookback: timedelta = timedelta(days=3)


def cursor_time(cursor: Cursor) -> datetime | None:
    """Order event ids behave like microsecond Unix timestamps (16 digits)."""
    position = cursor.position
    if position is None or not position.isdigit() or len(position) != 16:
        return None
    return datetime.fromtimestamp(int(position) / 1_000_000, UTC)


class Reconciler:
    def __init__(
        self,
        journal: OrderEventJournal,
        state: StateStore,
        sweep: SweepCheckoutForms,
        settings: ReconcileSettings,
        clock: Clock,
    ) -> None:
        self._journal = journal
        self._state = state
        self._sweep = sweep
        self._settings = settings
        self._clock = clock
        self._last_light: datetime | None = None

    async def repair_stale_cursor(self, cursor: Cursor) -> SweepOutcome | None:
        """`cursor`: the one the journal would poll from next (`SyncOrders.cursor()`)."""
        since = cursor_time(cursor)
        now = self._clock.now()
        if since is None or now - since < self._settings.retention - self._settings.safety_margin:
            return None
        barrier = await self._journal.latest_event_id()
        log.warning(
            "cursor older than the journal's retention: sweeping checkout forms",
            extra={"account": self._settings.account, "cursor_time": since.isoformat()},
        )
        outcome = await self._sweep.run(since - self._settings.safety_margin, now)
        if barrier is not None:
            await self._state.commit(self._settings.account, Cursor(barrier))
        return outcome

    async def light_sweep_if_due(self) -> SweepOutcome | None:
        every = self._settings.light_every
        now = self._clock.now()
        if every is None:
            return None
        if self._last_light is None:
            self._last_light = now  # the first light sweep is one period after start
            return None
        if now - self._last_light < every:
            return None
        outcome = await self._sweep.run(now - self._settings.light_lookback, now)
        self._last_light = now
        return outcome
