"""The one batch pipeline both paths hand their forms to: decide, count failures, quarantine,
stage, send, commit. Each rule is checked as the journal path uses it (a batch that moves the
cursor, forms revealed by journal events) and as a sweep does (no cursor move, no events)."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.inmemory import InMemoryEventPublisher
from adapters.persistence import MemoryStateStore
from application.coalesce import FormEvents
from application.outbox import Outbox
from application.pipeline import BatchPipeline, Revealed
from application.ports import CheckoutFormNotFound, Cursor, JournalEvent, UnreadableCheckoutForm
from domain.events import RECONCILIATION, OrderImported, OrderStatusChanged
from domain.order import OrderSnapshot
from domain.policy import Decision, ImportPolicy, OrderRecord, Revelation
from tests.support.builders import make_order_snapshot
from tests.support.fakes import T0, FakeAllegro, FakeClock

ACCOUNT = "shop-1"
GOOD = "aaaaaaaa-0000-0000-0000-000000000001"
BAD = "aaaaaaaa-0000-0000-0000-000000000002"
EVENT_ID = "1773479698020317"


class RefusingPolicy(ImportPolicy):
    """A decision that fails for one order (a bug, or data nobody foresaw)."""

    def decide(
        self, order: OrderSnapshot, record: OrderRecord | None, revelation: Revelation
    ) -> Decision:
        if order.id == BAD:
            raise ValueError("nobody foresaw this")
        return super().decide(order, record, revelation)


@dataclasses.dataclass
class Parts:
    allegro: FakeAllegro
    publisher: InMemoryEventPublisher
    state: MemoryStateStore
    pipeline: BatchPipeline


def parts(max_attempts: int = 3) -> Parts:
    allegro, publisher, state = FakeAllegro(), InMemoryEventPublisher(), MemoryStateStore()
    pipeline = BatchPipeline(
        RefusingPolicy(account=ACCOUNT),
        state,
        state,
        publisher,
        Outbox(state, publisher, ACCOUNT),
        allegro,
        FakeClock(),
        max_attempts,
    )
    return Parts(allegro, publisher, state, pipeline)


def revealed(form_id: str, form: object, journal: bool, event_type: str = "BOUGHT") -> Revealed:
    """`form` as the journal path hands it over (revealed by one event) or as a sweep does."""
    if not journal:
        return Revealed(form_id, form)  # type: ignore[arg-type]
    event = JournalEvent(EVENT_ID, event_type, T0, form_id, getattr(form, "revision", None))
    return Revealed(form_id, form, FormEvents(form_id, (event,)))  # type: ignore[arg-type]


def cursor_of(journal: bool) -> Cursor | None:
    return Cursor(EVENT_ID) if journal else None


async def test_a_batch_that_moves_the_cursor_commits_nothing_while_a_form_waits() -> None:
    p = parts()
    unreadable = UnreadableCheckoutForm(BAD, "{not json", "body is not JSON")
    batch = [
        revealed(GOOD, make_order_snapshot(id=GOOD), True),
        revealed(BAD, unreadable, True),
    ]

    delivery = await p.pipeline.run(batch, cursor=Cursor(EVENT_ID))

    assert not delivery.committed
    assert delivery.pending == [BAD]
    assert p.publisher.published == []
    assert p.state.cursors == {}
    assert p.state.records.get(ACCOUNT, {}) == {}
    assert p.state.failures[ACCOUNT] == {BAD: 1}


async def test_a_sweep_batch_commits_what_was_decided_and_counts_the_failing_form() -> None:
    p = parts()
    unreadable = UnreadableCheckoutForm(BAD, "{not json", "body is not JSON")
    batch = [revealed(GOOD, make_order_snapshot(id=GOOD), False), revealed(BAD, unreadable, False)]

    delivery = await p.pipeline.run(batch)

    assert delivery.committed
    assert delivery.pending == [BAD]
    assert delivery.failed == {BAD: ("body is not JSON", 1)}
    assert [e.external_id for e in p.publisher.published] == [GOOD]
    assert set(p.state.records[ACCOUNT]) == {GOOD}
    assert p.state.cursors == {}  # a sweep never moves the cursor


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "sweep"])
async def test_a_form_failing_its_last_attempt_is_quarantined_with_allegros_body(
    journal: bool,
) -> None:
    p = parts(max_attempts=1)
    form = make_order_snapshot(id=BAD)
    p.allegro.forms[BAD] = form  # what Allegro sends for it, read again for the dead letter
    allegro_body = await p.allegro.get_raw(BAD)

    delivery = await p.pipeline.run([revealed(BAD, form, journal)], cursor=cursor_of(journal))

    assert delivery.committed
    [letter] = p.publisher.dead_letters
    assert letter.raw_payload == allegro_body
    assert letter.error == "unexpected ValueError while deciding"  # the text may quote the form
    assert letter.allegro_event_id == (EVENT_ID if journal else None)
    assert [q.checkout_form_id for q in await p.state.load_quarantined(ACCOUNT)] == [BAD]
    assert p.state.failures[ACCOUNT] == {}  # cleared: quarantined, not waiting


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "sweep"])
async def test_a_gone_form_has_its_failure_count_dropped_by_the_same_commit(
    journal: bool,
) -> None:
    p = parts()
    await p.state.record_failure(ACCOUNT, BAD, "body is not JSON")

    delivery = await p.pipeline.run(
        [revealed(BAD, CheckoutFormNotFound(BAD), journal)], cursor=cursor_of(journal)
    )

    assert delivery.committed
    assert delivery.gone == [BAD]
    assert p.state.failures[ACCOUNT] == {}
    assert p.state.commits == 1


@pytest.mark.parametrize(
    ("journal", "reason"), [(True, "FULFILLMENT_STATUS_CHANGED"), (False, RECONCILIATION)]
)
async def test_a_change_is_attributed_to_what_revealed_it(journal: bool, reason: str) -> None:
    p = parts()
    new = make_order_snapshot(id=GOOD, fulfillment_status="NEW", revision="r1")
    await p.pipeline.run([revealed(GOOD, new, journal)], cursor=cursor_of(journal))
    sent = make_order_snapshot(id=GOOD, fulfillment_status="SENT", revision="r2")

    await p.pipeline.run(
        [revealed(GOOD, sent, journal, "FULFILLMENT_STATUS_CHANGED")], cursor=cursor_of(journal)
    )

    imported, changed = p.publisher.published
    assert isinstance(imported, OrderImported)
    assert isinstance(changed, OrderStatusChanged)
    assert changed.reason == reason


async def test_only_batches_that_do_not_move_the_cursor_count_as_side_commits() -> None:
    p = parts()
    form = make_order_snapshot(id=GOOD)

    await p.pipeline.run([revealed(GOOD, form, True)], cursor=Cursor(EVENT_ID))
    assert p.pipeline.side_commits == 0
    await p.pipeline.run([revealed(GOOD, form, False)])
    assert p.pipeline.side_commits == 1


class Crash(Exception):
    """The process dying, as far as this batch is concerned."""


class CrashAfterSend(InMemoryEventPublisher):
    """Acknowledged by the broker, then the process dies before the commit."""

    def __init__(self) -> None:
        super().__init__()
        self.crash = True

    async def send(self, messages: object) -> None:
        await super().send(messages)  # type: ignore[arg-type]
        if self.crash:
            raise Crash("killed after the broker acknowledged")


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "sweep"])
async def test_a_batch_cut_after_its_send_is_re_sent_byte_for_byte_before_anything_else(
    journal: bool,
) -> None:
    p = parts()
    publisher = CrashAfterSend()
    pipeline = BatchPipeline(
        ImportPolicy(account=ACCOUNT),
        p.state,
        p.state,
        publisher,
        Outbox(p.state, publisher, ACCOUNT),
        p.allegro,
        FakeClock(),
    )
    form = make_order_snapshot(id=GOOD)
    with pytest.raises(Crash):
        await pipeline.run([revealed(GOOD, form, journal)], cursor=cursor_of(journal))
    first = list(publisher.sent)
    assert p.state.records.get(ACCOUNT, {}) == {}  # not committed
    publisher.crash = False

    staged = await pipeline.resend_staged()

    assert staged is not None
    assert staged.cursor == cursor_of(journal)
    assert publisher.sent[len(first) :] == first  # the same records, byte for byte
    assert set(p.state.records[ACCOUNT]) == {GOOD}
    assert await p.state.load_staged(ACCOUNT) is None
