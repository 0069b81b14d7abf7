"""Bulk reads: list pages where they save requests, single reads for everything else."""

import dataclasses
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

import pytest

from application.coalesce import FormEvents
from application.form_loader import FormLoader
from application.ports import (
    AllegroRejected,
    AllegroUnavailable,
    CheckoutFormPage,
    CheckoutFormQuery,
    Cursor,
    JournalEvent,
    UnreadableCheckoutForm,
)
from application.ports.errors import MalformedBody
from application.window_reads import vouched
from domain.events import OrderImported
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy, ImportTrigger
from tests.support.builders import make_line_item, make_order_snapshot
from tests.support.fakes import T0, FakeAllegro, InMemoryEventPublisher, make_sync

ACCOUNT = "shop-1"
BOUGHT = T0 - timedelta(hours=2)  # the fake journal's events happen at T0 + n seconds


class ListingAllegro(FakeAllegro):
    """Events carry the purchase time; list pages may show other copies than single reads
    (`listed`, like a lagging search index), or fail (`search_error`)."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: dict[str, OrderSnapshot | UnreadableCheckoutForm] = {}
        self.hidden: set[str] = set()  # never on a list page, yet readable on its own
        self.search_error: Exception | None = None

    def emit(self, event_type: str, order: OrderSnapshot, *, store: bool = True) -> JournalEvent:
        event = dataclasses.replace(
            super().emit(event_type, order, store=store), bought_at=order.ordered_at
        )
        self.events[-1] = event
        return event

    async def search(
        self, query: CheckoutFormQuery, *, wanted: Collection[str] | None = None
    ) -> CheckoutFormPage:
        if self.search_error is not None:
            self.searches.append(query)
            raise self.search_error
        fresh = self.forms
        self.forms = {k: v for k, v in {**fresh, **self.listed}.items() if k not in self.hidden}
        try:
            return await super().search(query, wanted=wanted)
        finally:
            self.forms = fresh


def order(n: int, bought: datetime = BOUGHT, **overrides: object) -> OrderSnapshot:
    """Order n, bought at `bought`; its last buyer-side change is the purchase itself."""
    fields: dict[str, object] = {
        "id": f"00000000-0000-11f1-8f11-{n:012d}",
        "revision": f"{n:08x}",
        "line_items": (make_line_item(id=f"10000000-0000-11f1-8f11-{n:012d}", bought_at=bought),),
        "updated_at": bought,
        **overrides,
    }
    return make_order_snapshot(**fields)


@pytest.fixture
def allegro() -> ListingAllegro:
    return ListingAllegro()


def imported_ids(publisher: InMemoryEventPublisher) -> list[str]:
    return sorted(e.external_id for e in publisher.published if isinstance(e, OrderImported))


def ids(*numbers: int) -> list[str]:
    return sorted(order(n).id for n in numbers)


def paid_orders(allegro: ListingAllegro, numbers: range, spacing: timedelta) -> None:
    for n in numbers:
        allegro.emit("READY_FOR_PROCESSING", order(n, bought=BOUGHT + n * spacing))


async def test_orders_bought_close_together_are_read_through_one_list_page(
    allegro, publisher, state
):
    paid_orders(allegro, range(10), timedelta(minutes=1))

    await make_sync(allegro, publisher, state).run_batch()

    assert len(allegro.searches) == 1
    assert allegro.reads == []
    assert imported_ids(publisher) == ids(*range(10))


async def test_the_list_window_spans_exactly_the_batchs_purchase_times(allegro, publisher, state):
    paid_orders(allegro, range(5), timedelta(minutes=1))

    await make_sync(allegro, publisher, state).run_batch()

    [query] = allegro.searches
    assert allegro.wanted == [frozenset(ids(*range(5)))]  # the window's other forms: untranslated
    assert query.bought_at_gte == BOUGHT
    # to the end of the last millisecond: Allegro's filter takes milliseconds
    assert query.bought_at_lte == BOUGHT + timedelta(minutes=4, microseconds=999)
    assert (query.order, query.offset, query.limit) == ("oldest_first", 0, 100)


async def test_a_trickle_of_orders_is_read_one_by_one(allegro, publisher, state):
    paid_orders(allegro, range(3), timedelta(minutes=1))

    await make_sync(allegro, publisher, state).run_batch()

    assert allegro.searches == []
    assert sorted(allegro.reads) == ids(0, 1, 2)


async def test_bulk_reads_can_be_switched_off(allegro, publisher, state):
    paid_orders(allegro, range(10), timedelta(minutes=1))

    await make_sync(allegro, publisher, state, bulk_reads=False).run_batch()

    assert allegro.searches == []
    assert sorted(allegro.reads) == ids(*range(10))
    assert imported_ids(publisher) == ids(*range(10))


async def test_a_few_old_orders_do_not_stretch_the_window_over_months(allegro, publisher, state):
    paid_orders(allegro, range(6), timedelta(minutes=1))
    allegro.emit("FULFILLMENT_STATUS_CHANGED", order(90, bought=BOUGHT - timedelta(days=90)))
    allegro.emit("FULFILLMENT_STATUS_CHANGED", order(91, bought=BOUGHT - timedelta(days=30)))

    await make_sync(allegro, publisher, state).run_batch()

    [query] = allegro.searches
    assert query.bought_at_lte - query.bought_at_gte < timedelta(minutes=6)
    assert sorted(allegro.reads) == ids(90, 91)
    assert imported_ids(publisher) == ids(*range(6), 90, 91)


async def test_a_stale_listed_copy_is_not_used(allegro, publisher, state):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    stale = order(2, revision="0ld0ld00", status="BOUGHT")  # older than the batch's event
    allegro.listed[stale.id] = stale

    await make_sync(allegro, publisher, state).run_batch()

    assert allegro.reads == [stale.id]
    [event] = [e for e in publisher.published if e.external_id == stale.id]
    assert event.revision == order(2).revision


async def test_a_listed_copy_newer_than_the_batch_is_used(allegro, publisher, state):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    later = order(2, revision="5ec0ndaa", updated_at=T0 + timedelta(hours=1))  # buyer changed
    allegro.forms[later.id] = later

    await make_sync(allegro, publisher, state).run_batch()

    assert allegro.reads == []
    [event] = [e for e in publisher.published if e.external_id == later.id]
    assert event.revision == "5ec0ndaa"


async def test_a_merged_form_missing_from_a_complete_listing_is_gone_without_a_read(
    allegro, publisher, state
):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    gone = order(7, bought=BOUGHT + timedelta(minutes=2), status="BOUGHT")
    allegro.emit("BOUGHT", gone, store=False)
    last = allegro.emit("FILLED_IN", gone, store=False)

    outcome = await make_sync(allegro, publisher, state).run_batch()

    assert allegro.reads == []
    assert outcome.gone == [gone.id]
    assert imported_ids(publisher) == ids(*range(5))
    assert state.cursors[ACCOUNT] == Cursor(last.id)


async def test_an_unlisted_order_with_a_payment_event_is_still_read_on_its_own(
    allegro, publisher, state
):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    gone = order(7, bought=BOUGHT + timedelta(minutes=2))
    allegro.emit("READY_FOR_PROCESSING", gone, store=False)

    outcome = await make_sync(allegro, publisher, state).run_batch()

    assert allegro.reads == [gone.id]
    assert outcome.gone == [gone.id]


async def test_an_unlisted_order_imported_before_is_still_read_on_its_own(
    allegro, publisher, state
):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    sync = make_sync(allegro, publisher, state)
    await sync.run_batch()
    paid_orders(allegro, range(5, 10), timedelta(minutes=1))
    odd = allegro.forms.pop(order(2).id)  # an odd BOUGHT event for an imported order
    allegro.emit("BOUGHT", odd, store=False)

    await sync.run_batch()

    assert allegro.reads == [odd.id]


async def test_importing_at_purchase_reads_every_unlisted_order(allegro, publisher, state):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    gone = order(7, bought=BOUGHT + timedelta(minutes=2), status="BOUGHT")
    allegro.emit("BOUGHT", gone, store=False)
    policy = ImportPolicy(account=ACCOUNT, trigger=ImportTrigger.BOUGHT)
    sync = make_sync(allegro, publisher, state, policy=policy)

    await sync.run_batch()

    assert allegro.reads == [gone.id]


async def test_an_unlisted_order_is_read_when_paging_stopped_early(allegro, publisher, state):
    for n in range(100, 1100):  # a busy hour of other orders, not in this batch
        allegro.forms[order(n).id] = order(n, bought=BOUGHT + timedelta(seconds=n))
    paid_orders(allegro, range(4), timedelta(minutes=10))
    gone = order(7, bought=BOUGHT + timedelta(minutes=35), status="BOUGHT")
    allegro.emit("BOUGHT", gone, store=False)

    await make_sync(allegro, publisher, state).run_batch()

    assert len(allegro.searches) == 1  # the rest of the window was never listed
    assert gone.id in allegro.reads


async def test_an_unreadable_list_item_is_retried_then_dead_lettered(allegro, publisher, state):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    poison = order(3).id
    allegro.forms[poison] = UnreadableCheckoutForm(poison, '{"id": "x"', "body is not JSON")
    sync = make_sync(allegro, publisher, state, max_attempts=2)

    outcomes = [await sync.run_batch() for _ in range(2)]

    assert [o.retry_pending for o in outcomes] == [[poison], []]
    assert allegro.reads == [poison, poison]
    [letter] = publisher.dead_letters
    assert (letter.checkout_form_id, letter.raw_payload) == (poison, '{"id": "x"')
    assert imported_ids(publisher) == ids(0, 1, 2, 4)
    assert state.cursors[ACCOUNT] == Cursor(allegro.events[-1].id)


async def test_an_unreadable_list_item_whose_single_read_works_is_imported(
    allegro, publisher, state
):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    allegro.listed[order(3).id] = UnreadableCheckoutForm(order(3).id, "{}", "truncated")

    await make_sync(allegro, publisher, state).run_batch()

    assert allegro.reads == [order(3).id]
    assert imported_ids(publisher) == ids(*range(5))


async def test_paging_stops_where_single_reads_are_cheaper(allegro, publisher, state):
    for n in range(100, 1100):  # a busy hour of other orders, not in this batch
        allegro.forms[order(n).id] = order(n, bought=BOUGHT + timedelta(seconds=n))
    paid_orders(allegro, range(5), timedelta(minutes=10))

    await make_sync(allegro, publisher, state).run_batch()

    assert len(allegro.searches) == 1
    assert imported_ids(publisher) == ids(*range(5))
    assert len(allegro.reads) == 4  # the first page held only the earliest one


def other_orders(allegro: ListingAllegro, numbers: range, **overrides: object) -> None:
    """Orders bought among orders 0-4 of `paid_orders` (one a minute from BOUGHT), whose
    events come in a later batch."""
    for n in numbers:
        bought = BOUGHT + timedelta(seconds=10 + 45 * (n - numbers.start))
        allegro.forms[order(n).id] = order(n, bought=bought, **overrides)


def emit_stored(allegro: ListingAllegro, event_type: str, numbers: Iterable[int]) -> None:
    for n in numbers:
        allegro.emit(event_type, allegro.forms[order(n).id])


async def test_forms_listed_for_one_batch_are_listed_again_for_the_next_one(
    allegro, publisher, state
):
    # Reusing a copy listed for an earlier batch is off by default: a late event carrying an
    # older revision makes a stale copy look current (the crash test caught a status flip).
    paid_orders(allegro, range(5), timedelta(minutes=1))
    other_orders(allegro, range(5, 10))
    sync = make_sync(allegro, publisher, state)
    await sync.run_batch()
    emit_stored(allegro, "READY_FOR_PROCESSING", range(5, 10))

    await sync.run_batch()

    assert len(allegro.searches) == 2
    assert allegro.reads == []
    assert imported_ids(publisher) == ids(*range(10))


async def test_unpaid_forms_are_not_remembered(allegro, publisher, state):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    other_orders(allegro, range(5, 10), status="BOUGHT")  # may still be merged away
    sync = make_sync(allegro, publisher, state)
    await sync.run_batch()
    emit_stored(allegro, "BOUGHT", range(5, 10))

    await sync.run_batch()

    assert len(allegro.searches) == 2


async def test_a_remembered_copy_older_than_the_batch_is_not_used(allegro, publisher, state):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    other_orders(allegro, range(5, 10))
    sync = make_sync(allegro, publisher, state)
    await sync.run_batch()
    listed = allegro.forms[order(7).id]
    assert isinstance(listed, OrderSnapshot)
    # A seller-side change: new revision, same updatedAt.
    shipped = dataclasses.replace(listed, revision="5e11e5e1", fulfillment_status="SENT")
    allegro.emit("FULFILLMENT_STATUS_CHANGED", shipped)
    emit_stored(allegro, "READY_FOR_PROCESSING", (5, 6, 8, 9))

    await sync.run_batch()

    [event] = [e for e in publisher.published if e.external_id == shipped.id]
    assert (event.revision, event.fulfillment_status) == ("5e11e5e1", "SENT")
    assert len(allegro.searches) == 2  # listed again, at its current revision


async def test_a_late_event_cannot_make_a_remembered_copy_hide_a_cancellation(
    allegro, publisher, state
):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    other_orders(allegro, range(5, 6))  # paid; listed and remembered by the first batch
    sync = make_sync(allegro, publisher, state)
    await sync.run_batch()
    paid = allegro.forms[order(5).id]
    assert isinstance(paid, OrderSnapshot)
    cancelled = dataclasses.replace(
        paid, status="CANCELLED", revision="cace11ed", updated_at=T0 + timedelta(seconds=6)
    )
    allegro.emit("BUYER_CANCELLED", cancelled)
    allegro.emit("READY_FOR_PROCESSING", paid, store=False)  # late, with the paid revision

    await sync.run_batch()

    [event] = [e for e in publisher.published if e.external_id == paid.id]
    assert isinstance(event, OrderImported)
    assert (event.revision, event.order_status) == ("cace11ed", "cancelled")


async def test_an_outage_on_a_list_page_holds_the_cursor(allegro, publisher, state):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    allegro.search_error = AllegroUnavailable("503 from Allegro")
    sync = make_sync(allegro, publisher, state)

    with pytest.raises(AllegroUnavailable):
        await sync.run_batch()

    assert publisher.published == []
    assert state.cursors[ACCOUNT] == Cursor(None)


async def test_a_refused_list_query_falls_back_to_single_reads(allegro, publisher, state):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    allegro.search_error = AllegroRejected("422 from Allegro", 422)

    await make_sync(allegro, publisher, state).run_batch()

    assert sorted(allegro.reads) == ids(*range(5))
    assert imported_ids(publisher) == ids(*range(5))


async def test_an_unreadable_list_page_falls_back_to_single_reads(allegro, publisher, state):
    # One hostile form fails its whole page; the batch must not wait on it.
    paid_orders(allegro, range(5), timedelta(minutes=1))
    allegro.search_error = MalformedBody("list page nested too deep")

    await make_sync(allegro, publisher, state).run_batch()

    assert sorted(allegro.reads) == ids(*range(5))
    assert imported_ids(publisher) == ids(*range(5))


async def test_a_window_past_the_offset_limit_is_narrowed_for_the_rest(allegro):
    every = [order(n, bought=BOUGHT + timedelta(seconds=n)) for n in range(10_050)]
    allegro.forms = {o.id: o for o in every}
    wanted = [*every[:10_000:100], *every[-10:]]
    for o in wanted:
        allegro.emit("READY_FOR_PROCESSING", o)
    groups = [FormEvents(e.checkout_form_id or "", (e,)) for e in allegro.events]

    loaded = await FormLoader(allegro).load(groups)

    assert loaded.results == wanted
    assert (loaded.list_requests, loaded.single_reads) == (101, 0)
    assert allegro.searches[-1].bought_at_gte == every[-10].ordered_at


def event_at(seconds: int, revision: str | None) -> JournalEvent:
    return JournalEvent(
        str(seconds), "READY_FOR_PROCESSING", T0 + timedelta(seconds=seconds), "x", revision
    )


@pytest.mark.parametrize(
    ("revision", "updated_at", "expected"),
    [
        ("bbbbbbbb", None, True),  # the revision of the batch's latest event
        ("aaaaaaaa", None, False),  # an earlier event's revision: maybe older than the batch
        ("cccccccc", T0 + timedelta(seconds=3), True),  # a buyer change after every event
        ("cccccccc", T0 + timedelta(seconds=2), False),  # ... not after the latest one
        ("cccccccc", T0 + timedelta(seconds=1), False),
    ],
)
def test_what_vouches_for_a_listed_copy(revision, updated_at, expected):
    group = FormEvents("x", (event_at(1, "aaaaaaaa"), event_at(2, "bbbbbbbb")))

    listed = make_order_snapshot(id="x", revision=revision, updated_at=updated_at)

    assert vouched(listed, group) is expected


def at(
    seconds: int, revision: str | None, event_type: str = "READY_FOR_PROCESSING"
) -> JournalEvent:
    return JournalEvent(str(seconds), event_type, T0 + timedelta(seconds=seconds), "x", revision)


PAID, CANCELLED = "aaaaaaaa", "cccccccc"
LATE_PAYMENT_EVENT = (  # as Allegro sends it: the payment's event after the cancellation
    at(1, "bbbbbbbb", "BOUGHT"),
    at(2, PAID),
    at(3, CANCELLED, "BUYER_CANCELLED"),
    at(4, PAID),
)


@pytest.mark.parametrize(
    ("events", "revision", "expected"),
    [
        # the newest revision, though a late event repeats an older one after it
        (LATE_PAYMENT_EVENT, CANCELLED, True),
        # the late event's own revision: older than the cancellation the batch also shows
        (LATE_PAYMENT_EVENT, PAID, False),
        # a revision repeated by the batch's latest event
        ((at(1, PAID), at(2, PAID)), PAID, True),
        # reported later in the journal but earlier in time: which is newer is unknown
        ((at(2, "bbbbbbbb"), at(1, PAID)), PAID, False),
        ((at(2, "bbbbbbbb"), at(1, PAID)), "bbbbbbbb", False),
        # reported at the same moment: the journal's order decides
        ((at(1, "bbbbbbbb"), at(1, PAID)), PAID, True),
        # an event without a revision counts only when it came before, in order and in time
        ((at(1, None), at(2, PAID)), PAID, True),
        ((at(2, PAID), at(3, None)), PAID, False),
        ((at(3, None), at(2, PAID)), PAID, False),
    ],
)
def test_a_listed_copy_with_the_newest_revision_the_batch_shows_is_vouched_for(
    events, revision, expected
):
    listed = make_order_snapshot(id="x", revision=revision, updated_at=None)

    assert vouched(listed, FormEvents("x", events)) is expected


@pytest.mark.parametrize("lagging", [False, True])
async def test_a_late_payment_event_after_a_cancellation(allegro, publisher, state, lagging):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    paid = allegro.forms[order(2).id]
    assert isinstance(paid, OrderSnapshot)
    # A seller-side-like revision change only: `updatedAt` does not vouch for the copy.
    cancelled = dataclasses.replace(paid, status="CANCELLED", revision="cace11ed")
    allegro.emit("BUYER_CANCELLED", cancelled)
    allegro.emit("READY_FOR_PROCESSING", paid, store=False)  # late, with the paid revision
    if lagging:
        allegro.listed[paid.id] = paid  # the listing still shows the paid copy

    await make_sync(allegro, publisher, state).run_batch()

    # The cancelled copy on the list is the newest the batch shows: no single read. The paid
    # copy is not, though the late event carries its revision: read again.
    assert allegro.reads == ([paid.id] if lagging else [])
    [event] = [e for e in publisher.published if e.external_id == paid.id]
    assert isinstance(event, OrderImported)
    assert (event.revision, event.order_status) == ("cace11ed", "cancelled")


@pytest.mark.parametrize("named", [True, False])
async def test_an_unreadable_list_item_is_never_taken_for_an_absent_form(
    allegro, publisher, state, named
):
    paid_orders(allegro, range(5), timedelta(minutes=1))
    unpaid = order(7, bought=BOUGHT + timedelta(minutes=2), status="BOUGHT")
    allegro.emit("BOUGHT", unpaid)
    allegro.listed[unpaid.id] = UnreadableCheckoutForm(unpaid.id if named else None, "{", "no")

    outcome = await make_sync(allegro, publisher, state).run_batch()

    assert allegro.reads == [unpaid.id]
    assert outcome.gone == []


async def test_an_order_read_ahead_as_gone_but_imported_meanwhile_is_read_again(
    allegro, publisher, state
):
    paid_orders(allegro, range(5), timedelta(minutes=1))  # the first batch imports them
    imported_order = allegro.forms[order(0).id]
    assert isinstance(imported_order, OrderSnapshot)
    allegro.emit("FILLED_IN", imported_order)  # the second batch: nothing for the payment yet
    other_orders(allegro, range(5, 9), status="BOUGHT")
    emit_stored(allegro, "BOUGHT", range(5, 9))
    allegro.hidden = {imported_order.id}  # a listing that misses it
    sync = make_sync(allegro, publisher, state, batch_size=5, pages_per_batch=1)

    outcomes = await sync.drain()

    # Read ahead while the first batch was published, its absence counted as "gone"; by the
    # time the second batch ran it had been imported, so it was read again.
    assert [o.events_read for o in outcomes] == [5, 5, 0]
    assert allegro.reads.count(imported_order.id) == 2  # first batch (hidden), then again
    assert outcomes[1].gone == []
