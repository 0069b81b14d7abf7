"""A real clock that an operator can move forward: `POST /__sim/clock` on a served
simulator (a test of a day-long outage cannot wait a day)."""

from __future__ import annotations

import threading

from sandbox.allegro.clock import Clock


class ShiftedClock:
    """`inner` plus an offset that only grows; both readings move together."""

    def __init__(self, inner: Clock) -> None:
        self._inner = inner
        self._offset = 0.0
        self._lock = threading.Lock()

    def wall(self) -> float:
        with self._lock:
            return self._inner.wall() + self._offset

    def monotonic(self) -> float:
        with self._lock:
            return self._inner.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._offset += seconds
