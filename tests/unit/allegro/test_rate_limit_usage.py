"""The token bucket's read-only usage (for the quota gauges), on a fake clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.allegro.observer import RateLimitUsage
from adapters.allegro.rate_limit import WINDOW_SECONDS, TokenBucket

from .fakes import FakeTime, RecordingObserver


class Watcher(RecordingObserver):
    def __init__(self) -> None:
        super().__init__()
        self.usage: Callable[[], RateLimitUsage] | None = None

    def rate_limiter(self, usage: Callable[[], RateLimitUsage]) -> None:
        self.usage = usage


def bucket(time: FakeTime, observer: RecordingObserver, per_minute: int = 60) -> TokenBucket:
    return TokenBucket(per_minute, 3, monotonic=time.monotonic, sleep=time.sleep, observer=observer)


async def test_a_watcher_is_handed_the_bucket_and_reads_the_trailing_window() -> None:
    time, watcher = FakeTime(), Watcher()
    limiter = bucket(time, watcher, per_minute=60)
    assert watcher.usage is not None
    assert watcher.usage() == RateLimitUsage(60, 0, 3.0, 0.0)

    for _ in range(4):  # the fourth waits a second for a token
        await limiter.acquire()
    time.advance(10)

    usage = watcher.usage()
    assert (usage.per_minute, usage.used) == (60, 4)
    assert usage.tokens == pytest.approx(min(3.0, 0 + 10 * 60 / 60))
    time.advance(WINDOW_SECONDS)
    assert watcher.usage().used == 0


async def test_reading_the_usage_takes_nothing_and_shows_a_block() -> None:
    time, watcher = FakeTime(), Watcher()
    limiter = bucket(time, watcher)
    assert watcher.usage is not None

    for _ in range(10):
        watcher.usage()
    waits = [await limiter.acquire() for _ in range(3)]  # still a full burst

    assert waits == [0.0, 0.0, 0.0]
    limiter.block_for(45)
    time.advance(5)
    assert watcher.usage().blocked_seconds == pytest.approx(40)


def test_a_plain_observer_is_not_asked_to_watch() -> None:
    observer = RecordingObserver()  # no rate_limiter method: nothing is handed to it

    limiter = bucket(FakeTime(), observer)

    assert limiter.usage().used == 0
