"""A resource's own request cap, on top of the client id's shared per-minute budget.

`GET`/`POST /order/checkout-forms/{id}/shipments` and `GET /order/carriers` take at most 50
requests a second each (docs/allegro-api.md, Writing back to orders), whatever is left of the
per-minute budget. The shared `TokenBucket` (rate_limit.py) does not express that cap: it lets
`burst` requests through on top of its rate in any second, and its sliding window is the
budget's minute. This limiter admits at most `limit` requests in any `window_seconds`, bursts
included (httpx_order_writer.py chooses a window shorter than the cap's second, so that
uneven network delays cannot bunch the arrivals past it); the transport takes a slot on every
attempt, retries too, right before it sends (after the shared bucket), so the requests are
spaced as they leave.
"""

from __future__ import annotations

import asyncio
from collections import deque

from adapters.allegro.timing import Monotonic, Sleep

# Float arithmetic may leave a wait a hair short of the window's end; below this it is over
# (a wait shorter than the clock's resolution would never end on a fake clock).
_EPSILON = 1e-9


class WindowLimiter:
    def __init__(
        self, limit: int, window_seconds: float, *, monotonic: Monotonic, sleep: Sleep
    ) -> None:
        if limit < 1 or not window_seconds > 0:
            raise ValueError("a window limiter needs limit >= 1 and window_seconds > 0")
        self._window = window_seconds
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: deque[float] = deque(maxlen=limit)  # the last `limit` start times
        # FIFO: waiters take slots in arrival order, one sleeper at a time.
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Wait until one more request fits in the trailing window and take its slot;
        returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            while True:
                now = self._monotonic()
                delay = self._delay(now)
                if delay <= _EPSILON:
                    break
                await self._sleep(delay)
                waited += delay
            self._sent.append(now)
        return waited

    def _delay(self, now: float) -> float:
        if len(self._sent) < (self._sent.maxlen or 0):
            return 0.0
        return self._sent[0] + self._window - now
