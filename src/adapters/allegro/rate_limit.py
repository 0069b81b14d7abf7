"""One token bucket per client id, shared by every request (API and token endpoint).

Allegro blocks a client id for a minute once it exceeds its limit (docs/allegro-api.md,
Errors and rate limits), so the bucket also
holds a block: after a 429 every request of this client waits, not only the one that got it.
A bucket alone lets `per_minute + burst` requests into some 60-second window; a sliding
window of the last `per_minute` send times closes that gap, so no 60-second window ever
holds more than `per_minute` requests, burst included.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from adapters.allegro.observer import (
    NullObserver,
    RateLimitUsage,
    RateLimitWatcher,
    RequestObserver,
)
from adapters.allegro.timing import Monotonic, Sleep

logger = logging.getLogger(__name__)

# Float refill arithmetic may leave a token a hair short of 1 after an exact wait.
_EPSILON = 1e-9
# Allegro counts arrivals, we count departures: a second of slack keeps two requests sent
# 60 s apart from arriving 59.9 s apart after uneven network or server delays.
WINDOW_SECONDS = 61.0


class TokenBucket:
    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        monotonic: Monotonic,
        sleep: Sleep,
        observer: RequestObserver | None = None,
    ) -> None:
        if per_minute < 1 or burst < 1:
            raise ValueError("a token bucket needs per_minute >= 1 and burst >= 1")
        self._per_minute = per_minute
        self._capacity = float(burst)
        self._rate = per_minute / 60.0
        self._monotonic = monotonic
        self._sleep = sleep
        self._observer = observer or NullObserver()
        self._tokens = self._capacity
        self._updated = monotonic()
        self._blocked_until = float("-inf")
        self._sent: deque[float] = deque(maxlen=per_minute)
        # FIFO: waiters take tokens in arrival order, and one sleeper at a time keeps the math
        # simple (a token bucket serialises consumers anyway).
        self._lock = asyncio.Lock()
        if isinstance(self._observer, RateLimitWatcher):
            self._observer.rate_limiter(self.usage)

    def block_for(self, seconds: float) -> None:
        """Hold every acquire until `seconds` from now (extends, never shortens, a block)."""
        until = self._monotonic() + max(seconds, 0.0)
        if until > self._blocked_until:
            self._blocked_until = until
            logger.warning(
                "allegro rate limit: blocking all requests",
                extra={"block_seconds": round(seconds, 3)},
            )

    async def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            while True:
                now = self._monotonic()
                self._refill(now)
                delay = max(self._blocked_until - now, self._window_delay(now))
                if delay <= 0:
                    if self._tokens >= 1.0 - _EPSILON:
                        self._tokens = max(self._tokens - 1.0, 0.0)
                        self._sent.append(now)
                        break
                    delay = (1.0 - self._tokens) / self._rate
                await self._sleep(delay)
                waited += delay
        if waited > 0:
            self._observer.rate_limit_wait(waited)
        return waited

    def usage(self) -> RateLimitUsage:
        """How much of the budget is in use now; changes nothing (no refill, no token)."""
        now = self._monotonic()
        used = sum(1 for sent in tuple(self._sent) if sent > now - WINDOW_SECONDS)
        blocked = max(self._blocked_until - now, 0.0)
        return RateLimitUsage(self._per_minute, used, self._tokens_at(now), blocked)

    def _window_delay(self, now: float) -> float:
        """How long until one more request fits in the trailing 60-second window."""
        if len(self._sent) < (self._sent.maxlen or 0):
            return 0.0
        return self._sent[0] + WINDOW_SECONDS - now

    def _tokens_at(self, now: float) -> float:
        elapsed = max(now - self._updated, 0.0)
        return min(self._capacity, self._tokens + elapsed * self._rate)

    def _refill(self, now: float) -> None:
        self._tokens = self._tokens_at(now)
        self._updated = now
