import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from application.ports import Cursor, OutboundMessage, PublishError, UnreadableCheckoutForm
from application.reconcile import Reconciler, ReconcileSettings, cursor_time
from domain.events import OrderImported, OrderStatusChanged
from tests.support.builders import make_line_item, make_order_snapshot, make_payment
from tests.support.fakes import (
    SYNC_ACCOUNT,
    FakeAllegro,
    FakeClock,
    InMemoryEventPublisher,
    MemoryStateStore,
    make_sweep,
    make_sync,
)

ACCOUNT = SYNC_ACCOUNT
START = datetime(2026, 1, 1, tzinfo=UTC)


def order(n: int, **overrides):
    bought = START + timedelta(minutes=n)
    return make_order_snapshot(
        id=f"00000000-0000-11f1-8f11-{n:012d}",
        line_items=(make_line_item(bought_at=bought),),
        **overrides,
    )


async def test_backfill_imports_paid_orders_of_the_window_once():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    unpaid = make_payment(finished_at=None, paid_amount=None)
    for n in range(250):
        allegro.forms[order(n).id] = (
            order(n) if n % 5 else order(n, status="BOUGHT", payment=unpaid)
        )
    sweep = make_sweep(allegro, publisher, state)
    progress: list[tuple[int, int]] = []

    outcome = await sweep.run(
        START, START + timedelta(days=1), lambda s, t: progress.append((s, t))
    )
    again = await sweep.run(START, START + timedelta(days=1))

    assert outcome.seen == 250
    assert outcome.published_by_type == {"OrderImported": 200}
    assert len(publisher.published) == 200
    assert {type(e) for e in publisher.published} == {OrderImported}
    assert again.published == 0
    assert progress[-1] == (250, 250)
    assert outcome.requests == 3


async def test_windows_past_ten_thousand_are_halved():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    for n in range(10_050):
        allegro.forms[order(n).id] = order(n)

    outcome = await make_sweep(allegro, publisher, state).run(START, START + timedelta(days=8))

    assert outcome.seen >= 10_050
    assert len({e.external_id for e in publisher.published}) == 10_050
    assert all(q.offset + q.limit <= 10_000 for q in allegro.searches)
    # oldest first: purchases made during the sweep append instead of shifting unread pages
    assert {q.order for q in allegro.searches} == {"oldest_first"}


async def test_a_sweep_publishes_status_changes_with_the_reconciliation_reason():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    allegro.forms[order(1).id] = order(1)
    sweep = make_sweep(allegro, publisher, state)
    await sweep.run(START, START + timedelta(days=1))
    allegro.forms[order(1).id] = order(1, revision="99999999", fulfillment_status="SENT")

    await sweep.run(START, START + timedelta(days=1))

    changed = publisher.published[-1]
    assert isinstance(changed, OrderStatusChanged)
    assert (changed.order_status, changed.reason) == ("shipped", "RECONCILIATION")


async def test_a_sweep_leaves_the_cursor_alone():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    state.cursors[ACCOUNT] = Cursor("1773479698020317")
    allegro.forms[order(1).id] = order(1)

    await make_sweep(allegro, publisher, state).run(START, START + timedelta(days=1))

    assert state.cursors[ACCOUNT] == Cursor("1773479698020317")


async def test_unreadable_forms_are_dead_lettered_after_the_attempts():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    allegro.forms["bad"] = UnreadableCheckoutForm("bad", "{not json", "invalid JSON")
    sweep = make_sweep(allegro, publisher, state, max_attempts=2)

    first = await sweep.run(START, START + timedelta(days=1))
    second = await sweep.run(START, START + timedelta(days=1))

    assert (first.pending_failures, first.dead_letters) == (1, [])
    [letter] = second.dead_letters
    assert (letter.checkout_form_id, letter.raw_payload, letter.allegro_event_id) == (
        "bad",
        "{not json",
        None,
    )


class FailsOnce(InMemoryEventPublisher):
    """The broker refuses the first send after the page was staged; `attempted` keeps it."""

    def __init__(self) -> None:
        super().__init__()
        self.attempted: list[OutboundMessage] | None = None

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        if self.attempted is None:
            self.attempted = list(messages)
            raise PublishError("broker unreachable")
        await super().send(messages)


WINDOW = (START, START + timedelta(days=1))


async def test_a_page_that_failed_to_send_is_re_sent_byte_identical_before_any_decision():
    allegro, publisher, state = FakeAllegro(), FailsOnce(), MemoryStateStore()
    allegro.forms[order(1).id] = order(1, revision="r1")
    with pytest.raises(PublishError):
        await make_sweep(allegro, publisher, state).run(*WINDOW)
    # Deciding again from the moved form would import r2: a new decision, not a replay.
    allegro.forms[order(1).id] = order(1, revision="r2", fulfillment_status="SENT")

    outcome = await make_sweep(allegro, publisher, state).run(*WINDOW)

    assert publisher.attempted is not None
    assert publisher.sent[: len(publisher.attempted)] == publisher.attempted
    assert [type(e) for e in publisher.published] == [OrderImported, OrderStatusChanged]
    assert (outcome.resent, outcome.published) == (len(publisher.attempted), 1)
    assert state.staged == {}


async def test_the_journal_re_sends_a_staged_sweep_page_once_and_keeps_its_cursor():
    allegro, publisher, state = FakeAllegro(), FailsOnce(), MemoryStateStore()
    state.cursors[ACCOUNT] = Cursor("1773479698020317")
    allegro.forms[order(1).id] = order(1)
    with pytest.raises(PublishError):
        await make_sweep(allegro, publisher, state).run(*WINDOW)
    sync = make_sync(allegro, publisher, state)

    first, second = await sync.run_batch(), await sync.run_batch()

    assert (first.resent, second.resent) == (1, 0)
    assert [type(e) for e in publisher.published] == [OrderImported]
    assert state.cursors[ACCOUNT] == Cursor("1773479698020317")
    assert state.records[ACCOUNT].keys() == {order(1).id}


async def test_a_sweep_first_re_sends_a_journal_batch_staged_before_an_interruption():
    allegro, publisher, state = FakeAllegro(), FailsOnce(), MemoryStateStore()
    imported = allegro.emit("READY_FOR_PROCESSING", order(1, revision="r1"))
    with pytest.raises(PublishError):
        await make_sync(allegro, publisher, state).run_batch()
    allegro.forms[order(1).id] = order(1, revision="r2", fulfillment_status="SENT")

    await make_sweep(allegro, publisher, state).run(*WINDOW)

    # Imported once, by the journal's decision; the sweep decides on top of its record.
    assert [type(e) for e in publisher.published] == [OrderImported, OrderStatusChanged]
    assert state.cursors[ACCOUNT] == Cursor(imported.id)
    assert state.records[ACCOUNT][order(1).id].revision == "r2"
    assert state.staged == {}


def test_cursor_time_reads_microsecond_event_ids():
    assert cursor_time(Cursor("1773479722481317")) == datetime(
        2026, 3, 14, 9, 15, 22, 481317, tzinfo=UTC
    )
    assert cursor_time(Cursor(None)) is None
    assert cursor_time(Cursor("MTU3NjUy")) is None


def make_reconciler(allegro, publisher, state, clock, **settings) -> Reconciler:
    return Reconciler(
        journal=allegro,
        state=state,
        sweep=make_sweep(allegro, publisher, state),
        settings=ReconcileSettings(account=ACCOUNT, **settings),
        clock=clock,
    )


async def test_a_cursor_older_than_retention_is_repaired_by_a_sweep_then_moved():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    stale = START - timedelta(days=1)
    state.cursors[ACCOUNT] = Cursor(str(int(stale.timestamp() * 1_000_000)))
    allegro.forms[order(1).id] = order(1)
    newest = allegro.emit("READY_FOR_PROCESSING", order(2))
    clock = FakeClock(START + timedelta(days=70))

    reconciler = make_reconciler(allegro, publisher, state, clock)
    outcome = await reconciler.repair_stale_cursor(state.cursors[ACCOUNT])

    assert outcome is not None
    assert {e.external_id for e in publisher.published} == {order(1).id, order(2).id}
    assert state.cursors[ACCOUNT] == Cursor(newest.id)


async def test_a_fresh_cursor_is_left_alone():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    state.cursors[ACCOUNT] = Cursor(str(int(START.timestamp() * 1_000_000)))
    clock = FakeClock(START + timedelta(days=10))

    reconciler = make_reconciler(allegro, publisher, state, clock)
    assert await reconciler.repair_stale_cursor(state.cursors[ACCOUNT]) is None
    assert allegro.searches == []


async def test_the_light_sweep_runs_once_per_period_after_the_first():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    clock = FakeClock(START)
    reconciler = make_reconciler(
        allegro, publisher, state, clock, light_every=timedelta(minutes=10)
    )

    runs = []
    for _ in range(4):
        runs.append(await reconciler.light_sweep_if_due() is not None)
        clock.advance(6 * 60)

    assert runs == [False, False, True, False]


def deep_reconciler(allegro, publisher, state, clock) -> Reconciler:
    """Light sweep: 3 days back, off; deep sweep: 10 days back, a day's purchases a step,
    a round a day: (7 days + 1) / 1 day = 8 steps, one every 3 hours."""
    return make_reconciler(
        allegro,
        publisher,
        state,
        clock,
        light_every=None,
        light_lookback=timedelta(days=3),
        deep_every=timedelta(days=1),
        deep_lookback=timedelta(days=10),
    )


def windows(allegro: FakeAllegro) -> list[tuple[datetime | None, datetime | None]]:
    return [(q.bought_at_gte, q.bought_at_lte) for q in allegro.searches]


async def test_the_deep_sweep_walks_the_range_beyond_the_light_one_a_slice_at_a_time():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    clock = FakeClock(START + timedelta(days=40))
    reconciler = deep_reconciler(allegro, publisher, state, clock)
    step = timedelta(hours=3)

    assert await reconciler.deep_sweep_if_due() is None  # the first step is a period in
    clock.advance((step - timedelta(seconds=1)).total_seconds())
    assert await reconciler.deep_sweep_if_due() is None
    covered = []
    for _ in range(9):
        clock.advance(step.total_seconds())
        now = clock.now()
        assert await reconciler.deep_sweep_if_due() is not None
        assert await reconciler.deep_sweep_if_due() is None  # not due again at once
        low, high = windows(allegro)[-1]
        assert low is not None
        assert high is not None
        covered.append((now - low, now - high))

    day = timedelta(days=1)
    # Each slice starts where the last one ended (the range moves with the clock), from the
    # oldest purchases to the light sweep's edge, in a day; the ninth step starts anew.
    assert covered[0] == (10 * day, 9 * day)
    for (_, previous_high), (low, _) in itertools.pairwise(covered[:8]):
        assert low == previous_high + step
    assert covered[7][1] == 3 * day  # the last slice of a round stops at the light edge
    assert covered[6][1] > 3 * day
    assert covered[8] == (10 * day, 9 * day)


async def test_the_deep_sweep_repairs_a_missed_seller_side_change_of_an_old_order():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    clock = FakeClock(START + timedelta(days=8))  # order(1) was bought 8 days ago
    reconciler = deep_reconciler(allegro, publisher, state, clock)
    imported = order(1)
    allegro.forms[imported.id] = imported
    clock.advance(60)
    await reconciler.deep_sweep_if_due()
    for _ in range(8):  # a whole round imports it once
        clock.advance(3 * 3600)
        await reconciler.deep_sweep_if_due()
    assert [type(e) for e in publisher.published] == [OrderImported]

    # The seller marks it sent; its FULFILLMENT_STATUS_CHANGED never shows in the journal.
    allegro.forms[imported.id] = dataclasses.replace(
        imported, fulfillment_status="SENT", revision="5e47aaaa"
    )
    for _ in range(8):
        clock.advance(3 * 3600)
        await reconciler.deep_sweep_if_due()

    changed = [e for e in publisher.published if isinstance(e, OrderStatusChanged)]
    assert [(e.order_status, e.reason) for e in changed] == [("shipped", "RECONCILIATION")]


async def test_the_deep_sweep_can_be_turned_off():
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    clock = FakeClock(START + timedelta(days=40))
    reconciler = make_reconciler(allegro, publisher, state, clock, deep_every=None)

    for _ in range(30):
        assert await reconciler.deep_sweep_if_due() is None
        clock.advance(3600)
    assert allegro.searches == []


def test_the_steps_of_a_deep_round():
    inside = ReconcileSettings(
        account=ACCOUNT, light_lookback=timedelta(days=3), deep_lookback=timedelta(days=2)
    )
    assert inside.deep_steps == 0  # nothing beyond the light sweep's range
    assert ReconcileSettings(account=ACCOUNT, deep_every=None).deep_steps == 0
    # 27 days beyond the light sweep's 3, plus the day the range moves on during a round
    assert ReconcileSettings(account=ACCOUNT).deep_steps == 28
