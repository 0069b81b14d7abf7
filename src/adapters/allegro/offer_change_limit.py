"""Allegro's per-user limits on offer changes made by batch commands.

Allegro's API reference: quantity commands change at most 9 000 offers a minute and 250 000
an hour per user, price commands 9 000 a minute and 150 000 an hour. These count offers,
not requests (one command carries up to 1 000), so the per-request limiters do not express
them (`endpoint_limit.WindowLimiter` takes one slot per request): this one takes a command's
offers at once, in every window, or waits until they fit. A window is a second longer than
the limit's (like `rate_limit.WINDOW_SECONDS`): Allegro counts arrivals, we count
departures.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.allegro.timing import Monotonic, Sleep, Timing
from domain.offers import BatchKind

# Float arithmetic may leave a wait a hair short of the window's end (see endpoint_limit.py).
_EPSILON = 1e-9
_SLACK_SECONDS = 1.0

QUANTITY_LIMITS = ((9_000, 60.0), (250_000, 3600.0))  # (offers, seconds)
PRICE_LIMITS = ((9_000, 60.0), (150_000, 3600.0))
# Allegro states no limit for publication commands (END, ACTIVATE). They change offers too,
# and a per-user 429 would block the whole client id for a minute (rate_limit.py): they are
# held to the quantity commands' limits as a precaution.
PUBLICATION_LIMITS = QUANTITY_LIMITS


@dataclass
class _Window:
    limit: int
    seconds: float
    spent: deque[tuple[float, int]]  # (departure, offers), oldest first
    total: int = 0

    def expire(self, now: float) -> None:
        while self.spent and self.spent[0][0] <= now - self.seconds:
            self.total -= self.spent.popleft()[1]

    def delay(self, offers: int, now: float) -> float:
        """How long until `offers` more fit (0: now)."""
        excess = self.total + offers - self.limit
        if excess <= 0:
            return 0.0
        for departed, count in self.spent:  # the oldest leave the window first
            excess -= count
            if excess <= 0:
                return departed + self.seconds - now
        raise AssertionError("unreachable: offers <= limit")  # checked by `acquire`


class OfferChangeLimiter:
    """At most `limit` offers in any `seconds`, for each of its windows."""

    def __init__(
        self, limits: tuple[tuple[int, float], ...], *, monotonic: Monotonic, sleep: Sleep
    ) -> None:
        if not limits or any(limit < 1 or not seconds > 0 for limit, seconds in limits):
            raise ValueError("an offer change limiter needs limits >= 1 over seconds > 0")
        self._windows = [
            _Window(limit, seconds + _SLACK_SECONDS, deque()) for limit, seconds in limits
        ]
        self._most = min(limit for limit, _ in limits)
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = asyncio.Lock()  # FIFO: commands take their offers in arrival order

    async def acquire(self, offers: int) -> float:
        """Wait until `offers` more changes fit in every window and take them; returns the
        seconds waited."""
        if not 1 <= offers <= self._most:
            raise ValueError(f"a command changes 1..{self._most} offers, got {offers}")
        waited = 0.0
        async with self._lock:
            while True:
                now = self._monotonic()
                for window in self._windows:
                    window.expire(now)
                delay = max(window.delay(offers, now) for window in self._windows)
                if delay <= _EPSILON:
                    break
                await self._sleep(delay)
                waited += delay
            for window in self._windows:
                window.spent.append((now, offers))
                window.total += offers
        return waited


def quantity_change_limiter(timing: Timing) -> OfferChangeLimiter:
    return OfferChangeLimiter(QUANTITY_LIMITS, monotonic=timing.monotonic, sleep=timing.sleep)


def price_change_limiter(timing: Timing) -> OfferChangeLimiter:
    return OfferChangeLimiter(PRICE_LIMITS, monotonic=timing.monotonic, sleep=timing.sleep)


def publication_change_limiter(timing: Timing) -> OfferChangeLimiter:
    return OfferChangeLimiter(PUBLICATION_LIMITS, monotonic=timing.monotonic, sleep=timing.sleep)


OfferChangeLimiters = Mapping[BatchKind, OfferChangeLimiter]


def offer_change_limiters(timing: Timing | None = None) -> OfferChangeLimiters:
    """One limiter per kind of batch command. The service builds them once per process and
    hands them to every term's client: a new term (a lease regained, a login) does not
    forget what was sent in the last minute and hour."""
    timing = timing or Timing()
    return {
        BatchKind.QUANTITY: quantity_change_limiter(timing),
        BatchKind.PRICE: price_change_limiter(timing),
        BatchKind.PUBLICATION: publication_change_limiter(timing),
    }
