"""Reading the journal: during a backlog a batch takes several full pages, and the page after
a full batch is read ahead while the batch is processed, used only when the cursor lands
where it was read from, and never lost."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import Sequence
from datetime import timedelta

import pytest

from application.poll_loop import PollLoop
from application.ports import AllegroUnavailable, Cursor, JournalEvent, UnreadableCheckoutForm
from application.reconcile import Reconciler, ReconcileSettings
from application.sync_orders import SyncOrders, SyncSettings
from domain.events import OrderImported
from tests.support import fakes
from tests.support.builders import make_line_item, make_order_snapshot
from tests.support.fakes import T0, FakeAllegro, FakeClock

ACCOUNT = "shop-1"


class CountingJournal(FakeAllegro):
    """Records every fetch (`after`); the first fetch after an id in `fail_once_after` fails."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str | None] = []
        self.fail_once_after: set[str | None] = set()

    async def fetch(self, after: str | None, limit: int) -> Sequence[JournalEvent]:
        self.fetches.append(after)
        if after in self.fail_once_after:
            self.fail_once_after.discard(after)
            raise AllegroUnavailable("journal down")
        return await super().fetch(after, limit)


@pytest.fixture
def allegro() -> CountingJournal:
    return CountingJournal()


def make_sync(allegro, publisher, state, **settings) -> SyncOrders:
    return fakes.make_sync(
        allegro, publisher, state, **{"batch_size": 2, "pages_per_batch": 1, **settings}
    )


def paid(allegro: CountingJournal, count: int) -> list[JournalEvent]:
    return [
        allegro.emit("READY_FOR_PROCESSING", make_order_snapshot(id=f"cf-{n}"))
        for n in range(count)
    ]


async def settle() -> None:
    """Let background tasks run to their end: the fake journal never waits on I/O, so a few
    turns of the event loop are enough (no wall-clock time involved)."""
    for _ in range(20):
        await asyncio.sleep(0)


def imported(publisher) -> list[str]:
    return [e.external_id for e in publisher.published if isinstance(e, OrderImported)]


async def test_each_page_is_fetched_once_and_the_next_one_while_a_batch_is_processed(
    allegro, publisher, state
):
    events = paid(allegro, 5)

    outcomes = await make_sync(allegro, publisher, state).drain()

    # pages [0,1] [2,3] [4]: the fetches after 1 and 3 were started by the full page before
    assert allegro.fetches == [None, events[1].id, events[3].id]
    assert [o.events_read for o in outcomes] == [2, 2, 1]
    assert imported(publisher) == [f"cf-{n}" for n in range(5)]
    assert state.cursors[ACCOUNT] == Cursor(events[-1].id)


async def test_the_next_page_is_requested_before_the_batch_is_published(allegro, publisher, state):
    events = paid(allegro, 4)
    fetched_before_publish: list[list[str | None]] = []
    inner_send = publisher.send

    async def send(messages):
        await asyncio.sleep(0)  # the read-ahead task gets its turn
        fetched_before_publish.append(list(allegro.fetches))
        await inner_send(messages)

    publisher.send = send

    await make_sync(allegro, publisher, state).run_batch()

    assert fetched_before_publish == [[None, events[1].id]]


async def test_a_batch_that_does_not_commit_throws_the_read_ahead_away(allegro, publisher, state):
    events = paid(allegro, 4)
    poison = "cf-1"
    allegro.forms[poison] = UnreadableCheckoutForm(poison, "{", "body is not JSON")
    sync = make_sync(allegro, publisher, state, max_attempts=2)

    first = await sync.run_batch()  # cf-1 fails once: the cursor stays
    second = await sync.run_batch()  # the same page again; cf-1 is dead-lettered, it commits
    third = await sync.run_batch()  # the page read ahead by the second batch
    await settle()  # the third batch's own read-ahead

    assert first.retry_pending == [poison]
    assert second.committed
    assert third.events_read == 2
    e1, e3 = events[1].id, events[3].id
    assert allegro.fetches == [None, e1, None, e1, e3]  # the third batch asked for nothing
    assert state.cursors[ACCOUNT] == Cursor(e3)


async def test_a_read_ahead_that_failed_is_fetched_again(allegro, publisher, state):
    events = paid(allegro, 3)
    allegro.fail_once_after = {events[1].id}
    sync = make_sync(allegro, publisher, state)

    outcomes = [await sync.run_batch(), await sync.run_batch()]

    assert [o.events_read for o in outcomes] == [2, 1]
    assert allegro.fetches == [None, events[1].id, events[1].id]
    assert imported(publisher) == ["cf-0", "cf-1", "cf-2"]


async def test_an_unused_read_ahead_never_reports_an_unretrieved_exception(
    allegro, publisher, state, caplog
):
    events = paid(allegro, 2)
    allegro.fail_once_after = {events[1].id}
    sync = make_sync(allegro, publisher, state)

    await sync.run_batch()  # a full page: the next one is read ahead, and that read fails
    await settle()
    del sync  # the service stops without ever asking for that page
    gc.collect()
    await asyncio.sleep(0)

    assert allegro.fetches == [None, events[1].id]
    assert "never retrieved" not in caplog.text


async def test_a_backlog_is_taken_several_full_pages_per_batch(allegro, publisher, state):
    events = [allegro.emit("BOUGHT", make_order_snapshot(id=f"cf-{n % 3}")) for n in range(7)]
    sync = make_sync(allegro, publisher, state, pages_per_batch=3)

    outcomes = await sync.drain()

    assert [(o.events_read, o.orders_read, o.full) for o in outcomes] == [
        (6, 3, True),  # three full pages, three orders: each read once
        (1, 1, False),
    ]
    assert allegro.fetches == [None, events[1].id, events[3].id, events[5].id]
    assert sorted(allegro.reads) == ["cf-0", "cf-0", "cf-1", "cf-2"]
    assert state.cursors[ACCOUNT] == Cursor(events[-1].id)


async def test_a_batch_stops_at_the_first_page_that_is_not_full(allegro, publisher, state):
    events = paid(allegro, 3)

    outcome = await make_sync(allegro, publisher, state, pages_per_batch=5).run_batch()

    assert (outcome.events_read, outcome.full) == (3, False)
    assert allegro.fetches == [None, events[1].id]
    assert state.cursors[ACCOUNT] == Cursor(events[-1].id)


def test_pages_per_batch_must_be_positive():
    with pytest.raises(ValueError, match="pages_per_batch"):
        SyncSettings(account=ACCOUNT, pages_per_batch=0)


async def test_the_next_batchs_pages_are_all_read_ahead(allegro, publisher, state):
    events = paid(allegro, 9)
    sync = make_sync(allegro, publisher, state, pages_per_batch=2)
    outcomes = []

    outcomes.append(await sync.run_batch())
    await settle()  # while "processing": the read-ahead takes both pages
    fetched_while_idle = list(allegro.fetches)
    outcomes += [await sync.run_batch(), await sync.run_batch()]

    e1, e3, e5, e7 = (events[i].id for i in (1, 3, 5, 7))
    assert fetched_while_idle == [None, e1, e3, e5]
    assert allegro.fetches == [None, e1, e3, e5, e7]  # no page was asked for twice
    assert [o.events_read for o in outcomes] == [4, 4, 1]
    assert imported(publisher) == [f"cf-{n}" for n in range(9)]


async def test_the_next_batchs_forms_are_read_while_this_batch_is_published(
    allegro, publisher, state
):
    paid(allegro, 4)
    read_before_publish: list[list[str]] = []
    inner_send = publisher.send

    async def send(messages):
        await settle()  # the read-ahead gets its turns
        read_before_publish.append(list(allegro.reads))
        await inner_send(messages)

    publisher.send = send

    await make_sync(allegro, publisher, state).drain()

    # this batch's own forms first, then the next batch's, each read once in all
    assert read_before_publish[0] == ["cf-0", "cf-1", "cf-2", "cf-3"]
    assert allegro.reads == ["cf-0", "cf-1", "cf-2", "cf-3"]
    assert imported(publisher) == ["cf-0", "cf-1", "cf-2", "cf-3"]


async def test_the_next_batchs_forms_wait_for_this_batchs_own(allegro, publisher, state):
    paid(allegro, 4)
    sync = make_sync(allegro, publisher, state)
    inner_get = allegro.get

    async def get(checkout_form_id):
        if checkout_form_id in ("cf-0", "cf-1"):
            await settle()  # turns enough for the read-ahead to get ahead, if it could
        return await inner_get(checkout_form_id)

    allegro.get = get
    await sync.run_batch()

    assert allegro.reads[:2] == ["cf-0", "cf-1"]


async def test_forms_whose_read_ahead_failed_are_read_again(allegro, publisher, state):
    paid(allegro, 4)
    inner_send = publisher.send

    async def send(messages):  # Allegro is down while the first batch is published
        allegro.fail_reads = AllegroUnavailable("503 from Allegro")
        await settle()
        allegro.fail_reads = None
        await inner_send(messages)

    publisher.send = send

    outcomes = await make_sync(allegro, publisher, state).drain()

    assert [o.events_read for o in outcomes] == [2, 2, 0]
    # cf-2 and cf-3 failed while read ahead, then were read again by their own batch
    assert allegro.reads == ["cf-0", "cf-1", "cf-2", "cf-3", "cf-2", "cf-3"]
    assert imported(publisher) == ["cf-0", "cf-1", "cf-2", "cf-3"]


async def test_a_sweep_between_two_batches_makes_the_next_one_read_its_forms_again(
    allegro, publisher, state
):
    # A sweep run between two batches decides on forms read after the read-ahead's: the
    # next batch must not decide on its older copies (it would step a status back).
    bought = T0 - timedelta(hours=1)
    orders = [
        make_order_snapshot(id=f"cf-{n}", line_items=(make_line_item(bought_at=bought),))
        for n in range(4)
    ]
    for snapshot in orders:
        allegro.emit("READY_FOR_PROCESSING", snapshot)
    clock = FakeClock(T0)
    # wired as the service wires it: the sweep and the journal path share one pipeline
    imports = fakes.make_import(
        allegro, publisher, state, clock=clock, batch_size=2, pages_per_batch=1
    )
    sync = imports.sync
    reconciler = Reconciler(
        journal=allegro,
        state=state,
        sweep=imports.sweep,
        settings=ReconcileSettings(account=ACCOUNT, light_every=timedelta(minutes=10)),
        clock=clock,
    )
    loop = PollLoop(sync, clock, idle_seconds=0.0, reconciler=reconciler)

    await loop.step()  # the first batch; the second one's forms are read ahead
    await settle()
    assert allegro.reads == ["cf-0", "cf-1", "cf-2", "cf-3"]
    cancelled = dataclasses.replace(orders[2], status="CANCELLED", revision="cace11ed")
    allegro.forms["cf-2"] = cancelled  # the buyer cancels; the light sweep falls due
    clock.advance(11 * 60)

    await loop.step()  # the sweep imports cf-2 as cancelled, then the second batch runs

    states = [
        (e.external_id, e.order_status) for e in publisher.published if e.external_id == "cf-2"
    ]
    assert states == [("cf-2", "cancelled")]
    assert allegro.reads.count("cf-2") == 2
