"""Token bucket math on a fake clock: a burst, then the steady rate; blocks hold everyone."""

from __future__ import annotations

import asyncio

import pytest

from adapters.allegro.rate_limit import TokenBucket

from .fakes import FakeTime, RecordingObserver


def make_bucket(
    time: FakeTime, per_minute: int = 60, burst: int = 5
) -> tuple[TokenBucket, RecordingObserver]:
    observer = RecordingObserver()
    bucket = TokenBucket(
        per_minute, burst, monotonic=time.monotonic, sleep=time.sleep, observer=observer
    )
    return bucket, observer


async def test_a_full_burst_goes_without_waiting() -> None:
    time = FakeTime()
    bucket, observer = make_bucket(time, burst=5)

    waits = [await bucket.acquire() for _ in range(5)]

    assert waits == [0.0] * 5
    assert time.sleeps == []
    assert observer.waits == []


async def test_after_the_burst_requests_follow_the_steady_rate() -> None:
    time = FakeTime()
    bucket, observer = make_bucket(time, per_minute=120, burst=3)
    start = time.monotonic()

    times = []
    for _ in range(7):
        await bucket.acquire()
        times.append(time.monotonic() - start)

    assert times == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5, 2.0])
    assert observer.waits == pytest.approx([0.5] * 4)


async def test_idle_time_refills_up_to_the_burst_only() -> None:
    time = FakeTime()
    bucket, _ = make_bucket(time, per_minute=60, burst=2)
    for _ in range(2):
        await bucket.acquire()

    time.advance(3600)  # an hour idle is still only a burst of two
    for _ in range(2):
        assert await bucket.acquire() == 0.0

    assert await bucket.acquire() == pytest.approx(1.0)


async def test_concurrent_callers_never_exceed_the_rate() -> None:
    time = FakeTime()
    bucket, _ = make_bucket(time, per_minute=60, burst=5)
    start = time.monotonic()
    granted: list[float] = []

    async def take() -> None:
        await bucket.acquire()
        granted.append(time.monotonic() - start)

    await asyncio.gather(*(take() for _ in range(15)))

    granted.sort()
    for i, at in enumerate(granted):
        # Within `at` seconds at most burst + at * rate tokens exist.
        assert i + 1 <= 5 + at * 1.0 + 1e-6
    assert granted[-1] >= 10.0 - 1e-6


async def test_a_block_holds_every_acquire_until_it_ends() -> None:
    time = FakeTime()
    bucket, observer = make_bucket(time, burst=5)
    start = time.monotonic()

    bucket.block_for(60)
    waited = await bucket.acquire()

    assert waited == pytest.approx(60)
    assert time.monotonic() - start == pytest.approx(60)
    assert observer.waits == pytest.approx([60])


async def test_a_shorter_block_never_shortens_a_longer_one() -> None:
    time = FakeTime()
    bucket, _ = make_bucket(time)

    bucket.block_for(30)
    bucket.block_for(5)

    assert await bucket.acquire() == pytest.approx(30)


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 5), (60, 0)])
def test_a_bucket_needs_a_positive_rate_and_burst(per_minute: int, burst: int) -> None:
    time = FakeTime()
    with pytest.raises(ValueError, match="per_minute"):
        TokenBucket(per_minute, burst, monotonic=time.monotonic, sleep=time.sleep)


async def test_no_sixty_second_window_holds_more_than_the_budget_burst_included() -> None:
    time = FakeTime()
    bucket, _ = make_bucket(time, per_minute=30, burst=10)
    start = time.monotonic()

    sent = []
    for _ in range(100):
        await bucket.acquire()
        sent.append(time.monotonic() - start)

    busiest = max(sum(1 for t in sent if s <= t < s + 60.0) for s in sent)
    assert busiest == 30
    # not even when arrivals bunch up by up to a second
    assert max(sum(1 for t in sent if s <= t < s + 61.0 - 1e-6) for s in sent) == 30
    # and the budget is used, not wasted: three minutes and a few seconds pass 90 requests
    assert sum(1 for t in sent if t < 3 * 61.0) == 90
