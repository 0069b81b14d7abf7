"""Keeps the journal honest: repairs a cursor older than the journal's retention and sweeps
for silent holes. All of it feeds the same idempotent decision path.

Allegro keeps order events for 60 days (docs/allegro-api.md, Order event journal). A
cursor older than that would silently skip
whatever expired; instead we take event-stats as a barrier, sweep the orders bought since
the cursor's time, and only then move the cursor to the barrier.

Holes: the light sweep re-reads every order bought in the last `light_lookback` (3 days)
once per `light_every` (an hour). Seller-side changes (`fulfillment.status`) can come
weeks after the purchase and move neither `updatedAt` nor anything else a list can filter
on, so the deep sweep re-reads the orders bought between `deep_lookback` (30 days) and
`light_lookback` ago once per `deep_every` (a day), one day of purchases at a time spread
over the period: the budget it takes comes in small slices, not in one long sweep.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from application.ports.allegro import OrderEventJournal
from application.ports.clock import Clock
from application.ports.state import Cursor, CursorStore
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
    deep_every: timedelta | None = timedelta(days=1)  # None disables the deep sweep
    deep_lookback: timedelta = timedelta(days=30)
    deep_slice: timedelta = timedelta(days=1)  # purchases swept per step of the deep sweep

    @property
    def deep_steps(self) -> int:
        """Slices per deep round (0: no deep sweep). The range moves on with the clock while a
        round walks it, so a round takes one slice more than the range is wide for every
        `deep_every` it lasts: (span + deep_every) / deep_slice steps, one each
        `deep_every / deep_steps`, cover the range once per `deep_every`."""
        span = self.deep_lookback - self.light_lookback
        if self.deep_every is None or span <= timedelta(0):
            return 0
        return math.ceil((span + self.deep_every) / self.deep_slice)


def cursor_time(cursor: Cursor) -> datetime | None:
    """Order event ids behave like microsecond Unix timestamps (16 digits; docs/allegro-api.md,
    Order event journal)."""
    position = cursor.position
    if position is None or not position.isdigit() or len(position) != 16:
        return None
    return datetime.fromtimestamp(int(position) / 1_000_000, UTC)


class Reconciler:
    def __init__(
        self,
        journal: OrderEventJournal,
        state: CursorStore,
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
        self._last_deep: datetime | None = None
        self._deep_from: datetime | None = None  # where the deep sweep's next slice starts

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

    async def deep_sweep_if_due(self) -> SweepOutcome | None:
        """The next slice of the deep range, when one is due (one every `deep_every /
        deep_steps`, the first one such a period after start). Slices follow each other
        from the oldest purchases to the light sweep's edge, then a new round starts."""
        settings = self._settings
        steps = settings.deep_steps
        if settings.deep_every is None or steps == 0:
            return None
        now = self._clock.now()
        if self._last_deep is None:
            self._last_deep = now
            return None
        if now - self._last_deep < settings.deep_every / steps:
            return None
        oldest, edge = now - settings.deep_lookback, now - settings.light_lookback
        start = self._deep_from
        if start is None or not oldest <= start < edge:
            start = oldest  # a new round
        end = min(start + settings.deep_slice, edge)
        log.info(
            "deep reconciliation sweep",
            extra={
                "account": settings.account,
                "bought_from": start.isoformat(),
                "bought_until": end.isoformat(),
            },
        )
        outcome = await self._sweep.run(start, end)
        self._deep_from = None if end >= edge else end  # the round ends at the edge
        self._last_deep = now
        return outcome
