import dataclasses
import json

import pytest

from application.ports import AllegroUnavailable, Cursor, PublishError, UnreadableCheckoutForm
from domain.events import OrderImported, OrderStatusChanged
from tests.support.builders import make_order_snapshot, make_payment
from tests.support.fakes import FakeAllegro, make_sync

ACCOUNT = "shop-1"
UNPAID = make_payment(finished_at=None, paid_amount=None)


@pytest.fixture
def allegro() -> FakeAllegro:
    return FakeAllegro()


def order(n: int, **overrides):
    return make_order_snapshot(id=f"00000000-0000-11f1-8f11-{n:012d}", **overrides)


async def test_a_paid_order_is_imported_and_the_cursor_commits(allegro, publisher, state):
    paid = order(1)
    allegro.emit("BOUGHT", order(1, status="BOUGHT", payment=UNPAID))
    last = allegro.emit("READY_FOR_PROCESSING", paid)

    outcome = await make_sync(allegro, publisher, state).run_batch()

    [event] = publisher.published
    assert isinstance(event, OrderImported)
    assert event.external_id == paid.id
    assert state.cursors[ACCOUNT] == Cursor(last.id)
    assert outcome.committed


async def test_several_events_for_one_order_cost_one_read(allegro, publisher, state):
    for event_type in ("BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "READY_FOR_PROCESSING"):
        allegro.emit(event_type, order(1))
    allegro.emit("READY_FOR_PROCESSING", order(2))

    await make_sync(allegro, publisher, state).run_batch()

    assert sorted(allegro.reads) == [order(1).id, order(2).id]
    assert len(publisher.published) == 2


async def test_a_second_poll_publishes_nothing_new(allegro, publisher, state):
    allegro.emit("READY_FOR_PROCESSING", order(1))
    sync = make_sync(allegro, publisher, state)
    await sync.run_batch()
    allegro.emit("READY_FOR_PROCESSING", order(1))  # duplicate, same revision

    outcome = await sync.run_batch()

    assert len(publisher.published) == 1
    assert outcome.events_read == 1
    assert outcome.published == []


async def test_status_change_after_import(allegro, publisher, state):
    allegro.emit("READY_FOR_PROCESSING", order(1))
    sync = make_sync(allegro, publisher, state)
    await sync.run_batch()
    allegro.emit(
        "FULFILLMENT_STATUS_CHANGED", order(1, revision="7c20d5b1", fulfillment_status="SENT")
    )

    await sync.run_batch()

    changed = publisher.published[-1]
    assert isinstance(changed, OrderStatusChanged)
    assert (changed.previous_status, changed.order_status) == ("new", "shipped")


async def test_a_checkout_form_that_answers_404_does_not_block_the_cursor(
    allegro, publisher, state
):
    allegro.emit("BOUGHT", order(1, status="BOUGHT"), store=False)  # merged away: 404
    last = allegro.emit("READY_FOR_PROCESSING", order(2))

    outcome = await make_sync(allegro, publisher, state).run_batch()

    assert outcome.gone == [order(1).id]
    assert [e.external_id for e in publisher.published] == [order(2).id]
    assert state.cursors[ACCOUNT] == Cursor(last.id)


async def test_an_outage_holds_the_cursor_and_publishes_nothing(allegro, publisher, state):
    allegro.emit("READY_FOR_PROCESSING", order(1))
    allegro.fail_reads = AllegroUnavailable("503 from Allegro")
    sync = make_sync(allegro, publisher, state)

    with pytest.raises(AllegroUnavailable):
        await sync.run_batch()

    assert publisher.published == []
    assert state.cursors[ACCOUNT] == Cursor(None)  # the initial cursor only
    assert state.failures.get(ACCOUNT, {}) == {}


async def test_a_broker_outage_holds_the_cursor(allegro, publisher, state):
    allegro.emit("READY_FOR_PROCESSING", order(1))
    publisher.fail_with = PublishError("broker unreachable")
    sync = make_sync(allegro, publisher, state)

    with pytest.raises(Exception, match="broker unreachable"):
        await sync.run_batch()
    publisher.fail_with = None
    await sync.run_batch()

    assert [e.external_id for e in publisher.published] == [order(1).id]


async def test_a_poison_form_is_retried_then_dead_lettered_and_the_cursor_moves(
    allegro, publisher, state
):
    allegro.emit("READY_FOR_PROCESSING", order(1, status="TELEPORTED"))
    last = allegro.emit("READY_FOR_PROCESSING", order(2))
    sync = make_sync(allegro, publisher, state, max_attempts=3)

    outcomes = [await sync.run_batch() for _ in range(3)]

    assert [bool(o.retry_pending) for o in outcomes] == [True, True, False]
    [letter] = publisher.dead_letters
    assert letter.checkout_form_id == order(1).id
    assert letter.attempts == 3
    assert "TELEPORTED" in letter.error
    assert json.loads(letter.raw_payload)["id"] == order(1).id
    assert [e.external_id for e in publisher.published] == [order(2).id]
    assert state.cursors[ACCOUNT] == Cursor(last.id)
    assert state.failures.get(ACCOUNT, {}) == {}


async def test_an_unreadable_body_is_dead_lettered_with_the_raw_payload(allegro, publisher, state):
    allegro.emit("READY_FOR_PROCESSING", order(1))
    allegro.forms[order(1).id] = UnreadableCheckoutForm(order(1).id, '{"id": 1', "invalid JSON")

    await make_sync(allegro, publisher, state, max_attempts=1).run_batch()

    [letter] = publisher.dead_letters
    assert (letter.raw_payload, letter.error) == ('{"id": 1', "invalid JSON")
    assert letter.allegro_event_id == allegro.events[0].id


async def test_start_from_latest_skips_history_and_is_stored_at_once(allegro, publisher, state):
    allegro.emit("READY_FOR_PROCESSING", order(1))
    sync = make_sync(allegro, publisher, state, start_from="latest")

    outcome = await sync.run_batch()

    assert outcome.events_read == 0
    assert state.cursors[ACCOUNT] == Cursor(allegro.events[-1].id)


async def test_start_from_an_event_id(allegro, publisher, state):
    first = allegro.emit("READY_FOR_PROCESSING", order(1))
    allegro.emit("READY_FOR_PROCESSING", order(2))

    await make_sync(allegro, publisher, state, start_from=first.id).run_batch()

    assert [e.external_id for e in publisher.published] == [order(2).id]


async def test_drain_follows_full_pages(allegro, publisher, state):
    for n in range(7):
        allegro.emit("READY_FOR_PROCESSING", order(n))

    outcomes = await make_sync(allegro, publisher, state, batch_size=3, pages_per_batch=1).drain()

    assert [o.events_read for o in outcomes] == [3, 3, 1]
    assert len(publisher.published) == 7


async def test_out_of_order_events_change_nothing_the_form_does_not_show(allegro, publisher, state):
    final = order(1, fulfillment_status="SENT", revision="cccccccc")
    allegro.emit("FULFILLMENT_STATUS_CHANGED", final)
    allegro.emit("BOUGHT", dataclasses.replace(final, revision="aaaaaaaa"), store=False)

    await make_sync(allegro, publisher, state).run_batch()

    [event] = publisher.published
    assert isinstance(event, OrderImported)
    assert (event.order_status, event.revision) == ("shipped", "cccccccc")
