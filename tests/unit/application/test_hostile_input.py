"""The use cases' side of hostile input: what the Allegro adapter could not read is
quarantined or retried, and nothing it sends stops the account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.ports import Cursor, JournalEvent, UnreadableCheckoutForm
from application.ports.errors import AllegroRejected, MalformedBody
from domain.events import OrderImported
from domain.order import OrderSnapshot
from domain.policy import Decision, ImportPolicy, OrderRecord, Revelation
from tests.support.builders import make_order_snapshot
from tests.support.fakes import (
    T0,
    FakeAllegro,
    InMemoryEventPublisher,
    MemoryStateStore,
    make_import,
    make_sweep,
    make_sync,
)

ACCOUNT = "shop-1"


@pytest.fixture
def allegro() -> FakeAllegro:
    return FakeAllegro()


def order(n: int, **overrides: object) -> OrderSnapshot:
    return make_order_snapshot(id=f"00000000-0000-11f1-8f11-{n:012d}", **overrides)


def malformed_event(allegro: FakeAllegro, form_id: str) -> JournalEvent:
    seq = len(allegro.events) + 1
    event = JournalEvent(
        id=str(1773479698020317 + seq),
        type="READY_FOR_PROCESSING",
        occurred_at=T0 + timedelta(seconds=seq),
        checkout_form_id=None,
        revision=None,
        malformed=f"checkout form id is not of Allegro's shape: {form_id!r}",
        raw=f'{{"order": {{"checkoutForm": {{"id": "{form_id}"}}}}}}',
    )
    allegro.events.append(event)
    return event


async def test_a_malformed_journal_event_is_quarantined_at_once_and_passed(
    allegro: FakeAllegro, publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro.emit("READY_FOR_PROCESSING", order(1))
    bad = malformed_event(allegro, ".")
    last = allegro.emit("READY_FOR_PROCESSING", order(2))

    outcome = await make_sync(allegro, publisher, state, max_attempts=3).run_batch()

    assert outcome.committed
    assert state.cursors[ACCOUNT] == Cursor(last.id)
    assert sorted(e.external_id for e in publisher.published) == [order(1).id, order(2).id]
    [letter] = publisher.dead_letters
    assert letter.checkout_form_id == f"malformed-event-{bad.id}"  # never the value it carried
    assert letter.allegro_event_id == bad.id
    assert letter.raw_payload == bad.raw
    assert "not of Allegro's shape" in letter.error
    assert allegro.reads == [order(1).id, order(2).id]  # nothing read for it
    assert state.failures.get(ACCOUNT, {}) == {}


async def test_a_failing_form_found_gone_loses_its_failure_row(
    allegro: FakeAllegro, publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro.emit("READY_FOR_PROCESSING", order(1))
    allegro.forms[order(1).id] = UnreadableCheckoutForm(order(1).id, "{", "not JSON")
    sync = make_sync(allegro, publisher, state, max_attempts=3)
    await sync.run_batch()
    assert state.failures[ACCOUNT] == {order(1).id: 1}
    del allegro.forms[order(1).id]  # merged away meanwhile: 404 from now on

    outcome = await sync.run_batch()

    assert outcome.gone == [order(1).id]
    assert outcome.committed
    assert (
        state.failures.get(ACCOUNT, {}) == {}
    )  # `status` no longer lists it, no attempts carried over


class ExplodingPolicy(ImportPolicy):
    """A decision that fails in a way nobody planned for, for one order."""

    def decide(
        self, order: OrderSnapshot, record: OrderRecord | None, revelation: Revelation
    ) -> Decision:
        if order.id == ORDER_THAT_EXPLODES:
            raise RecursionError("maximum recursion depth exceeded")
        return super().decide(order, record, revelation)


ORDER_THAT_EXPLODES = order(1).id


async def test_an_unexpected_error_deciding_one_form_takes_the_poison_path(
    allegro: FakeAllegro, publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro.emit("READY_FOR_PROCESSING", order(1))
    last = allegro.emit("READY_FOR_PROCESSING", order(2))
    policy = ExplodingPolicy(account=ACCOUNT)
    sync = make_sync(allegro, publisher, state, policy=policy, max_attempts=2)

    outcomes = [await sync.run_batch() for _ in range(2)]

    assert [bool(o.retry_pending) for o in outcomes] == [True, False]
    [letter] = publisher.dead_letters
    assert letter.checkout_form_id == order(1).id
    assert "RecursionError" in letter.error
    assert [e.external_id for e in publisher.published if isinstance(e, OrderImported)] == [
        order(2).id
    ]
    assert state.cursors[ACCOUNT] == Cursor(last.id)


class UnreadablePages(FakeAllegro):
    async def search(self, query: object) -> object:  # type: ignore[override]
        self.searches.append(query)  # type: ignore[arg-type]
        raise MalformedBody("a form on this page is nested 100 000 levels deep")


async def test_a_sweep_skips_an_unreadable_page_and_finishes(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = UnreadablePages()
    sweep = make_sweep(allegro, publisher, state)

    outcome = await sweep.run(T0 - timedelta(days=1), T0)

    assert outcome.unreadable_pages == 1
    assert len(allegro.searches) == 1
    assert publisher.published == []


class RefusingRawReads(FakeAllegro):
    async def get_raw(self, checkout_form_id: str) -> str:
        raise AllegroRejected("HTTP 422 from Allegro", 422)


async def test_a_dead_letter_whose_raw_body_cannot_be_had_keeps_the_parsed_form(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = RefusingRawReads()
    allegro.emit("READY_FOR_PROCESSING", order(1, status="TELEPORTED"))
    last = allegro.emit("READY_FOR_PROCESSING", order(2))

    await make_sync(allegro, publisher, state, max_attempts=1).run_batch()

    [letter] = publisher.dead_letters
    assert letter.checkout_form_id == order(1).id
    assert "TELEPORTED" in letter.raw_payload  # the parsed form stands in for the body
    assert state.cursors[ACCOUNT] == Cursor(last.id)


async def test_an_unexpected_error_deciding_one_form_in_a_sweep_takes_the_poison_path(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = FakeAllegro()
    allegro.forms = {order(1).id: order(1), order(2).id: order(2)}
    sweep = make_import(
        allegro, publisher, state, policy=ExplodingPolicy(account=ACCOUNT), max_attempts=1
    ).sweep

    outcome = await sweep.run(datetime(2000, 1, 1, tzinfo=UTC), T0 + timedelta(days=1))

    [letter] = outcome.dead_letters
    assert letter.checkout_form_id == ORDER_THAT_EXPLODES
    assert letter.error == "unexpected RecursionError while deciding"
    assert [e.external_id for e in publisher.published] == [order(2).id]
