"""Allegro's per-user limits on offer changes, on fake time: a minute's and an hour's windows
at once, commands counted by their offers, waiters served in arrival order."""

from __future__ import annotations

import asyncio

import pytest

from adapters.allegro.offer_change_limit import (
    PRICE_LIMITS,
    QUANTITY_LIMITS,
    OfferChangeLimiter,
)

from .fakes import FakeTime, ManualTime, settle


def limiter(time: FakeTime, limits: tuple[tuple[int, float], ...]) -> OfferChangeLimiter:
    return OfferChangeLimiter(limits, monotonic=time.monotonic, sleep=time.sleep)


async def take_all(changes: OfferChangeLimiter, time: FakeTime, commands: int) -> list[float]:
    """When each of `commands` commands of 1 000 offers was let go."""
    let_go = []
    for _ in range(commands):
        await changes.acquire(1_000)
        let_go.append(time.monotonic())
    return let_go


def most_in(times: list[float], seconds: float) -> int:
    """The largest number of commands let go in any window of `seconds`."""
    return max(sum(1 for t in times if start <= t < start + seconds) for start in times)


@pytest.mark.parametrize(
    ("limits", "per_hour"), [(QUANTITY_LIMITS, 250), (PRICE_LIMITS, 150)], ids=["quantity", "price"]
)
async def test_no_minute_and_no_hour_holds_more_than_allegro_allows(
    limits: tuple[tuple[int, float], ...], per_hour: int
) -> None:
    time = FakeTime()
    changes = limiter(time, limits)

    let_go = await take_all(changes, time, per_hour + 20)

    assert most_in(let_go, 60.0) == 9  # 9 000 offers a minute
    assert most_in(let_go, 3600.0) == per_hour  # and 250 000 (150 000) an hour
    # The hour's window is what held the one past it: it left once the first had aged out.
    assert let_go[per_hour] - let_go[0] == pytest.approx(3601.0)


async def test_offers_are_counted_not_commands() -> None:
    time = FakeTime()
    changes = limiter(time, ((10, 60.0),))

    for size in (4, 3, 3):
        await changes.acquire(size)
    assert time.sleeps == []

    await changes.acquire(1)  # the window is full: wait for the first command's 4 to leave
    assert time.sleeps == [pytest.approx(61.0)]


async def test_a_command_waits_only_as_long_as_it_needs_room() -> None:
    time = FakeTime()
    changes = limiter(time, ((10, 60.0),))
    await changes.acquire(4)
    time.advance(10.0)
    await changes.acquire(6)
    time.advance(10.0)

    await changes.acquire(3)  # the 4 leave 61 s after they came: 41 s from now

    assert time.sleeps == [pytest.approx(41.0)]


async def test_waiters_are_served_in_arrival_order() -> None:
    time = ManualTime()
    changes = limiter(time, ((10, 60.0),))
    await changes.acquire(10)
    order: list[str] = []

    async def take(name: str, offers: int) -> None:
        await changes.acquire(offers)
        order.append(name)

    tasks = [asyncio.create_task(take(name, n)) for name, n in (("big", 9), ("small", 1))]
    await settle()
    assert order == []
    await time.advance_and_settle(61.0)
    await asyncio.gather(*tasks)

    assert order == ["big", "small"]  # the small one did not jump the queue


@pytest.mark.parametrize("offers", [0, -1, 9_001])
async def test_a_command_no_window_can_ever_hold_is_refused(offers: int) -> None:
    changes = limiter(FakeTime(), QUANTITY_LIMITS)

    with pytest.raises(ValueError, match="a command changes"):
        await changes.acquire(offers)


@pytest.mark.parametrize("limits", [(), ((0, 60.0),), ((10, 0.0),), ((10, float("nan")),)])
def test_a_limit_that_lets_nothing_through_is_refused(
    limits: tuple[tuple[int, float], ...],
) -> None:
    with pytest.raises(ValueError, match="needs limits"):
        limiter(FakeTime(), limits)
