"""What a restart re-sends after a crash between Kafka's ack and the commit (README.md,
Guarantees: a re-sent event carries the same event_id and value), with the use case and fakes,
so each interleaving is exact. The crash is a BaseException the use case cannot catch,
raised by the publisher once the broker "acknowledged" the batch: nothing is committed.

The end-to-end crash test measures how often these happen under load; here each one is
pinned down. They used to differ (a decision made again from a checkout form that changed
meanwhile is not a replay); the staged batch (a transactional outbox) makes them identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from adapters.kafka import AiokafkaEventPublisher, KafkaConfig
from adapters.kafka.messages import KafkaRecord
from application.ports import (
    DeadLetter,
    EventPublisher,
    JournalEvent,
    OutboundMessage,
    UnreadableCheckoutForm,
)
from application.sync_orders import SyncSettings
from domain.events import DomainEvent
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy
from entrypoints.assembly import order_import
from tests.support.builders import BOUGHT_AT, make_order_snapshot
from tests.support.fakes import FakeAllegro, FakeClock, MemoryStateStore

ACCOUNT = "replay"
ORDER = "00000000-0000-11f1-8f11-000000000001"
IMPORTED = b"openoms.order.imported.v1"


class Crash(BaseException):
    """SIGKILL, as far as the use case can tell: no handler runs, nothing is committed."""


class Broker:
    """The topic as consumers see it: every encoded record, in order, across restarts."""

    def __init__(self) -> None:
        self.records: list[KafkaRecord] = []

    def by_id(self) -> dict[str, set[bytes]]:
        values: dict[str, set[bytes]] = {}
        for record in self.records:
            ce_id = dict(record.headers)["ce_id"].decode()
            values.setdefault(ce_id, set()).add(record.value)
        return values


class AckThenCrash(EventPublisher):
    """Kafka's own encoding; `send` puts the records on the "topic", then crashes if asked."""

    def __init__(self, broker: Broker, crash: bool) -> None:
        self._kafka = AiokafkaEventPublisher(KafkaConfig(bootstrap_servers="unused:9092"))
        self._broker = broker
        self._crash = crash

    def encode(
        self, events: Sequence[DomainEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        return self._kafka.encode(events, dead_letters)

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        self._broker.records.extend(KafkaRecord(m.key, m.value, list(m.headers)) for m in messages)
        if self._crash and messages:
            raise Crash


class SellerActsDuringRead(FakeAllegro):
    """The seller changes the order after the journal page was read, before the form read."""

    def __init__(self) -> None:
        super().__init__()
        self.on_next_read: OrderSnapshot | None = None

    async def get(self, checkout_form_id: str) -> OrderSnapshot:
        change, self.on_next_read = self.on_next_read, None
        if change is not None:
            self.emit("FULFILLMENT_STATUS_CHANGED", change)
        return await super().get(checkout_form_id)

    async def fetch(self, after: str | None, limit: int) -> Sequence[JournalEvent]:
        return list(await super().fetch(after, limit))  # a copy: later emits are not in it


def order(revision: str, fulfillment: str) -> OrderSnapshot:
    return make_order_snapshot(id=ORDER, revision=revision, fulfillment_status=fulfillment)


async def run(
    allegro: FakeAllegro,
    state: MemoryStateStore,
    broker: Broker,
    *,
    crash: bool,
    max_attempts: int = 3,
) -> None:
    """One process lifetime: one batch, crashing after the ack when asked to."""
    sync = order_import(
        journal=allegro,
        forms=allegro,
        publisher=AckThenCrash(broker, crash),
        state=state,
        policy=ImportPolicy(account=ACCOUNT),
        settings=SyncSettings(account=ACCOUNT, start_from="earliest", max_attempts=max_attempts),
        clock=FakeClock(),
    ).sync
    if crash:
        with pytest.raises(Crash):
            await sync.run_batch()
    else:
        await sync.run_batch()


async def test_an_unchanged_form_is_re_sent_byte_identical():
    allegro, state, broker = FakeAllegro(), MemoryStateStore(), Broker()
    allegro.emit("READY_FOR_PROCESSING", order("r1", "NEW"))

    await run(allegro, state, broker, crash=True)
    await run(allegro, state, broker, crash=False)

    assert [dict(r.headers)["ce_type"] for r in broker.records] == [IMPORTED, IMPORTED]
    assert [len(values) for values in broker.by_id().values()] == [1]


async def test_an_order_is_imported_once_even_if_it_changed_before_the_restart():
    allegro, state, broker = FakeAllegro(), MemoryStateStore(), Broker()
    allegro.emit("READY_FOR_PROCESSING", order("r1", "NEW"))
    await run(allegro, state, broker, crash=True)
    allegro.emit("FULFILLMENT_STATUS_CHANGED", order("r2", "PROCESSING"))

    await run(allegro, state, broker, crash=False)

    imports = {
        dict(r.headers)["ce_id"] for r in broker.records if dict(r.headers)["ce_type"] == IMPORTED
    }
    assert len(imports) == 1, f"{len(imports)} OrderImported ids for one order"


async def test_a_replay_is_byte_identical_when_the_form_moved_during_the_batch():
    allegro, state, broker = SellerActsDuringRead(), MemoryStateStore(), Broker()
    allegro.emit("READY_FOR_PROCESSING", order("r1", "NEW"))
    await run(allegro, state, broker, crash=False)
    allegro.emit("FULFILLMENT_STATUS_CHANGED", order("r2", "PROCESSING"))
    allegro.on_next_read = order("r3", "SENT")  # lands between fetch and read
    await run(allegro, state, broker, crash=True)

    await run(allegro, state, broker, crash=False)

    differing = {ce_id: values for ce_id, values in broker.by_id().items() if len(values) > 1}
    assert differing == {}


async def test_a_dead_letter_re_sent_after_a_crash_keeps_its_id():
    allegro, state, broker = FakeAllegro(), MemoryStateStore(), Broker()
    allegro.emit("READY_FOR_PROCESSING", order("r1", "NEW"))
    allegro.forms[ORDER] = UnreadableCheckoutForm(ORDER, "{not json", "body is not JSON")
    await run(allegro, state, broker, crash=True, max_attempts=1)

    await run(allegro, state, broker, crash=False, max_attempts=1)

    assert len(broker.records) == 2
    assert len(broker.by_id()) == 1, "the quarantine of one input was sent under two ids"


async def sweep(
    allegro: FakeAllegro, state: MemoryStateStore, broker: Broker, *, crash: bool
) -> None:
    """One process lifetime of a backfill over the day `order` was bought in."""
    sweeper = order_import(
        journal=allegro,
        forms=allegro,
        publisher=AckThenCrash(broker, crash),
        state=state,
        policy=ImportPolicy(account=ACCOUNT),
        settings=SyncSettings(account=ACCOUNT),
        clock=FakeClock(),
    ).sweep
    window = (BOUGHT_AT - timedelta(hours=12), BOUGHT_AT + timedelta(hours=12))
    if crash:
        with pytest.raises(Crash):
            await sweeper.run(*window)
    else:
        await sweeper.run(*window)


async def test_a_sweep_page_is_re_sent_byte_identical_even_if_the_form_moved_meanwhile():
    allegro, state, broker = FakeAllegro(), MemoryStateStore(), Broker()
    allegro.forms[ORDER] = order("r1", "NEW")
    await sweep(allegro, state, broker, crash=True)
    crashed = len(broker.records)
    allegro.forms[ORDER] = order("r2", "PROCESSING")

    await sweep(allegro, state, broker, crash=False)

    assert broker.records[crashed : 2 * crashed] == broker.records[:crashed]  # re-sent first
    imports = {
        dict(r.headers)["ce_id"] for r in broker.records if dict(r.headers)["ce_type"] == IMPORTED
    }
    assert len(imports) == 1, f"{len(imports)} OrderImported ids for one order"
    differing = {ce_id: values for ce_id, values in broker.by_id().items() if len(values) > 1}
    assert differing == {}
