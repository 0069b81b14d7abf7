"""The cursor's lag behind event-stats, in seconds of event time and in events."""

from __future__ import annotations

from application.ports.state import Cursor
from entrypoints.lag import LagProbe
from tests.support.builders import make_order_snapshot
from tests.support.fakes import FakeAllegro, FakeClock, MemoryStateStore

ACCOUNT = "shop"


class CountingAllegro(FakeAllegro):
    def __init__(self) -> None:
        super().__init__()
        self.fetches = 0

    async def fetch(self, after: str | None, limit: int):  # type: ignore[no-untyped-def]
        self.fetches += 1
        return await super().fetch(after, limit)


def arrange(events: int) -> tuple[CountingAllegro, MemoryStateStore, LagProbe]:
    allegro, state = CountingAllegro(), MemoryStateStore()
    for n in range(events):
        allegro.emit("READY_FOR_PROCESSING", make_order_snapshot(id=f"cf-{n}"))
    return allegro, state, LagProbe(allegro, state, ACCOUNT, FakeClock(), cap=3)


async def test_a_cursor_at_the_newest_event_has_no_lag_and_costs_no_page() -> None:
    allegro, state, probe = arrange(4)
    state.cursors[ACCOUNT] = Cursor(allegro.events[-1].id)

    lag = await probe.measure()

    assert (lag.seconds, lag.events, lag.capped, lag.caught_up) == (0.0, 0, False, True)
    assert allegro.fetches == 0


async def test_a_cursor_behind_counts_the_events_and_the_event_time_between() -> None:
    allegro, state, probe = arrange(3)
    state.cursors[ACCOUNT] = Cursor(allegro.events[0].id)

    lag = await probe.measure()

    first, last = int(allegro.events[0].id), int(allegro.events[-1].id)
    assert lag.latest_event_id == allegro.events[-1].id
    assert lag.events == 2
    assert lag.seconds == (last - first) / 1_000_000
    assert not lag.capped


async def test_more_events_than_one_page_are_reported_as_at_least_a_page() -> None:
    allegro, state, probe = arrange(6)
    state.cursors[ACCOUNT] = Cursor(None)  # started from the earliest, nothing processed

    lag = await probe.measure()

    assert (lag.events, lag.capped) == (3, True)
    first, last = int(allegro.events[0].id), int(allegro.events[-1].id)
    assert lag.seconds == (last - first) / 1_000_000


async def test_without_a_stored_cursor_the_lag_is_unknown() -> None:
    allegro, _, probe = arrange(2)

    lag = await probe.measure()

    assert (lag.cursor, lag.events, lag.seconds) == (None, None, None)
    assert allegro.fetches == 0


async def test_an_empty_journal_has_nothing_to_catch_up() -> None:
    _, state, probe = arrange(0)
    state.cursors[ACCOUNT] = Cursor(None)

    lag = await probe.measure()

    assert (lag.latest_event_id, lag.events, lag.seconds) == (None, 0, None)


async def test_a_position_that_is_not_a_timestamp_has_no_lag_in_seconds() -> None:
    _, state, probe = arrange(2)
    state.cursors[ACCOUNT] = Cursor("42")

    lag = await probe.measure()

    assert lag.seconds is None
    assert lag.events == 2


async def test_the_orders_waiting_for_a_retry_are_counted_with_the_lag() -> None:
    allegro, state, probe = arrange(2)
    state.cursors[ACCOUNT] = Cursor(allegro.events[0].id)
    for form_id in ("cf-0", "cf-1", "cf-0"):
        await state.record_failure(ACCOUNT, form_id, "unmappable")
    await state.record_failure("another-account", "cf-9", "unmappable")

    lag = await probe.measure()

    assert lag.waiting_retry == 2
    state.cursors[ACCOUNT] = Cursor(allegro.events[-1].id)  # caught up: still counted
    await state.commit(ACCOUNT, None, cleared_failures=["cf-1"])
    assert (await probe.measure()).waiting_retry == 1


async def test_the_waiting_count_stops_at_the_cap() -> None:
    _, state, probe = arrange(0)  # cap=3
    for n in range(5):
        await state.record_failure(ACCOUNT, f"cf-{n}", "unmappable")

    assert (await probe.measure()).waiting_retry == 3
