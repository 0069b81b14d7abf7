"""Offer events out: one `OfferChanged` per changed offer per page, staged -> sent ->
committed (a crash re-sends the staged batch first, byte for byte), poison to the dead-letter
topic with the cursor moving on, outages holding the cursor, and a stale cursor repaired by a
sweep of the listing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from adapters.inmemory import InMemoryEventPublisher
from adapters.kafka.offers import KafkaOfferEncoder
from adapters.persistence.memory_offer_store import MemoryOfferStore
from application.offer_events import OfferEvents, OfferEventSettings
from application.poll_loop import Backoff
from application.ports import AllegroRejected, AllegroUnavailable, PublishError, StateStoreError
from application.ports.offers import OfferCursor, StagedOffers, UnreadableOffer
from application.ports.publisher import DEAD_LETTERS, OFFERS, DeadLetter, OutboundMessage
from domain.offers import OfferChanged, OfferRecord, OfferSnapshot
from tests.support.fakes import T0, FakeClock
from tests.support.offer_fakes import FakeOfferCatalog
from tests.support.offer_journal_fake import FakeOfferEventJournal, make_offer

ACCOUNT = "shop-1"
A, B, C, D, E = (f"1700000000{n}" for n in range(1, 6))


class CrashingOfferStore(MemoryOfferStore):
    """Commits fail `crash_commits` times (after the batch was sent): a crash between the
    send and the commit, as far as the store can tell."""

    def __init__(self) -> None:
        super().__init__()
        self.crash_commits = 0

    async def commit_offers(
        self, account: str, cursor: OfferCursor | None, records: Sequence[OfferRecord]
    ) -> None:
        if self.crash_commits:
            self.crash_commits -= 1
            raise StateStoreError("killed between send and commit")
        await super().commit_offers(account, cursor, records)


class BrokenEncoder(KafkaOfferEncoder):
    def encode_offers(
        self, events: Sequence[OfferChanged], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        raise ValueError("a bug nobody foresaw")


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    store: CrashingOfferStore = field(default_factory=CrashingOfferStore)
    catalog: FakeOfferCatalog = field(default_factory=FakeOfferCatalog)
    publisher: InMemoryEventPublisher = field(default_factory=InMemoryEventPublisher)
    journal: FakeOfferEventJournal = field(init=False)

    def __post_init__(self) -> None:
        self.journal = FakeOfferEventJournal(self.clock)

    def service(self, encoder: KafkaOfferEncoder | None = None, **settings: Any) -> OfferEvents:
        return OfferEvents(
            self.journal,
            self.catalog,
            self.store,
            encoder or KafkaOfferEncoder(),
            self.publisher,
            ACCOUNT,
            self.clock,
            OfferEventSettings(**settings),
        )

    def change(self, offer_id: str, event_type: str = "OFFER_STOCK_CHANGED", **values: Any) -> str:
        """The offer now has `values` on Allegro (its listing too); returns the event id."""
        current = self.journal.offers.get(offer_id)
        if isinstance(current, OfferSnapshot):
            renamed = {"stock": "stock_available", "status": "publication_status"}
            offer = dataclasses.replace(
                current, **{renamed.get(k, k): v for k, v in values.items()}
            )
        else:
            offer = make_offer(offer_id, sku=f"SKU-{offer_id}", updated_at=T0, **values)
        event = self.journal.change(offer, event_type)
        self.catalog.offers = self.journal.listing()
        return event.event_id

    def cursor(self) -> OfferCursor | None:
        return self.store.cursors.get(ACCOUNT)

    def published(self) -> list[dict[str, Any]]:
        return [json.loads(m.value) for m in self.publisher.sent if m.channel == OFFERS]

    def dead_letters(self) -> list[tuple[bytes, dict[str, Any]]]:
        return [
            (m.key, json.loads(m.value)) for m in self.publisher.sent if m.channel == DEAD_LETTERS
        ]


@pytest.fixture
def world() -> World:
    return World()


def stocks(published: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(p["offer_id"], p["stock_available"]) for p in published]


# --- one OfferChanged per changed offer ---------------------------------------------------


async def test_one_offer_changed_per_changed_offer_per_page(world: World) -> None:
    world.change(A, stock=5)
    world.change(A, "OFFER_PRICE_CHANGED", stock=4)
    last_of_a = world.change(A, stock=3)
    world.change(B, stock=9)

    more = await world.service().step()

    assert more is False
    assert stocks(world.published()) == [(A, 3), (B, 9)]
    assert sorted(world.journal.offer_reads) == [A, B]  # each offer read once
    assert world.cursor() == OfferCursor(world.journal.entries[-1].position, T0)
    assert world.published()[0]["event_id"] != last_of_a
    assert world.store.records[ACCOUNT][A].values == world.journal.offers[A].values()  # type: ignore[union-attr]


async def test_a_duplicate_event_publishes_nothing(world: World) -> None:
    service = world.service()
    world.change(A, stock=5)
    await service.step()
    world.journal.emit(A, "OFFER_CHANGED")  # a second event, the offer unchanged
    await service.step()
    world.store.cursors[ACCOUNT] = OfferCursor(None, world.clock.now())  # the same ids again
    await service.step()

    assert stocks(world.published()) == [(A, 5)]
    assert len(world.journal.offer_reads) == 3  # read each time, published once


async def test_event_ids_are_deterministic_and_depend_on_the_previous_state() -> None:
    async def second_event_id(first_stock: int) -> tuple[str, bytes]:
        world = World()
        service = world.service()
        world.change(A, stock=first_stock)
        await service.step()
        world.clock.advance(60)
        world.change(A, stock=7)
        await service.step()
        last = [m for m in world.publisher.sent if m.channel == OFFERS][-1]
        return json.loads(last.value)["event_id"], last.value

    same_a, same_b = await second_event_id(5), await second_event_id(5)
    other = await second_event_id(6)

    assert same_a == same_b  # same inputs: same id, same bytes
    assert other[0] != same_a[0]  # 5 -> 7 is not 6 -> 7


# --- stage -> send -> commit --------------------------------------------------------------


async def test_a_crash_between_send_and_commit_is_resent_byte_for_byte_first(world: World) -> None:
    service = world.service()
    world.change(A, stock=5)
    world.store.crash_commits = 1
    assert await service.step() is False
    first = list(world.publisher.sent)
    assert len(first) == 1
    assert world.cursor() is None
    assert service.status.consecutive_failures == 1

    world.clock.advance(60)
    world.change(A, stock=1)  # the offer moved meanwhile: deciding again would differ
    world.change(B, stock=2)
    await service.step()

    assert world.publisher.sent[: 2 * len(first)][len(first) :] == first  # re-sent first, as staged
    assert stocks(world.published()) == [(A, 5), (A, 5), (A, 1), (B, 2)]
    reads = [after for after, _ in world.journal.event_reads]
    assert reads == [None, world.journal.entries[0].position]  # then on from the cursor
    assert world.store.staged == {}
    assert service.status.resent == 1


async def test_resend_staged_sends_what_is_staged_and_commits_its_cursor(world: World) -> None:
    message = OutboundMessage(OFFERS, b"k", b"v", ())
    cursor = OfferCursor("42", T0)
    world.store.staged[ACCOUNT] = StagedOffers(cursor, (), (message,))

    staged = await world.service().resend_staged()

    assert staged is not None
    assert world.publisher.sent == [message]
    assert world.cursor() == cursor
    assert world.store.staged == {}


# --- poison and gone ----------------------------------------------------------------------


async def test_an_unreadable_event_is_dead_lettered_and_passed(world: World) -> None:
    service = world.service()
    bad = world.journal.emit_unreadable('{"id": "x", "offer": 7}', "offer.id is not a string")
    world.change(A, stock=5)

    await service.step()

    [(key, letter)] = world.dead_letters()
    assert key == f"offer-event-{bad.event_id}".encode()
    assert letter["raw_payload"] == '{"id": "x", "offer": 7}'
    assert "offer.id is not a string" in letter["error"]
    assert letter["allegro_event_id"] == bad.event_id
    assert stocks(world.published()) == [(A, 5)]
    assert world.cursor() == OfferCursor(world.journal.entries[-1].position, T0)


async def test_an_unreadable_event_without_an_id_gets_a_fixed_key(world: World) -> None:
    world.journal.emit_unreadable("\x00<html>", "not JSON", with_id=False)

    await world.service().step()

    [(key, letter)] = world.dead_letters()
    assert key == b"offer-event-unknown"
    assert letter["allegro_event_id"] is None
    assert world.cursor() == OfferCursor(world.journal.entries[-1].position, T0)


async def test_an_event_naming_no_offer_id_is_dead_lettered_never_read(world: World) -> None:
    world.journal.emit("../../me")

    await world.service().step()

    [(key, letter)] = world.dead_letters()
    assert key == f"offer-event-{world.journal.entries[0].position}".encode()
    assert "../../me" in letter["raw_payload"]
    assert world.journal.offer_reads == []
    assert world.cursor() == OfferCursor(world.journal.entries[0].position, T0)


async def test_an_unreadable_offer_is_dead_lettered_with_its_body_reason_and_event(
    world: World,
) -> None:
    event = world.journal.emit(A)
    world.journal.offers[A] = UnreadableOffer(A, '{"stock": "lots"}', "stock.available: not an int")
    world.change(B, stock=2)

    await world.service().step()

    [(key, letter)] = world.dead_letters()
    assert key == f"offer-{A}".encode()
    assert letter["raw_payload"] == '{"stock": "lots"}'
    assert "stock.available: not an int" in letter["error"]
    assert letter["allegro_event_id"] == event.event_id
    assert stocks(world.published()) == [(B, 2)]
    assert world.cursor() == OfferCursor(world.journal.entries[-1].position, T0)
    assert A not in world.store.records[ACCOUNT]


async def test_an_offer_read_refused_is_dead_lettered_not_held(world: World) -> None:
    world.change(A, stock=5)
    world.journal.refuse[A] = AllegroRejected("HTTP 400 from Allegro: bad offer id", 400)

    await world.service().step()

    [(key, letter)] = world.dead_letters()
    assert key == f"offer-{A}".encode()
    assert "HTTP 400" in letter["error"]
    assert world.cursor() == OfferCursor(world.journal.entries[-1].position, T0)


async def test_a_gone_offer_publishes_nothing_and_does_not_block(world: World) -> None:
    world.journal.emit(C, "OFFER_ARCHIVED")  # no such offer: 404
    world.change(A, stock=5)

    service = world.service()
    await service.step()

    assert stocks(world.published()) == [(A, 5)]
    assert world.dead_letters() == []
    assert world.cursor() == OfferCursor(world.journal.entries[-1].position, T0)
    assert service.status.consecutive_failures == 0


# --- outages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "outage",
    ["journal", "offer", "sender", "store"],
)
async def test_an_outage_commits_nothing_and_the_next_poll_goes_on(
    world: World, outage: str
) -> None:
    service = world.service()
    world.change(A, stock=5)
    await service.step()
    before = world.cursor()
    world.change(A, stock=4)
    error: Exception
    if outage == "journal":
        world.journal.fail_events = error = AllegroUnavailable("HTTP 503 from Allegro")
    elif outage == "offer":
        world.journal.fail_offers = error = AllegroUnavailable("HTTP 504 from Allegro")
    elif outage == "sender":
        world.publisher.fail_with = error = PublishError("broker down")
    else:
        world.store.fail_with = error = StateStoreError("disk full")

    assert await service.step() is False
    assert await service.step() is False

    assert world.cursor() == before
    assert stocks(world.published()) == [(A, 5)]
    assert world.store.records[ACCOUNT][A].values.startswith(f"1|SKU-{A}|5|")
    assert service.status.consecutive_failures == 2
    assert service.status.last_error == f"{type(error).__name__}: {error}"

    world.journal.fail_events = world.journal.fail_offers = None
    world.publisher.fail_with = world.store.fail_with = None
    await service.step()

    assert stocks(world.published()) == [(A, 5), (A, 4)]
    assert service.status.consecutive_failures == 0


async def test_an_unexpected_error_is_held_not_raised(world: World) -> None:
    world.change(A, stock=5)
    service = world.service(encoder=BrokenEncoder())

    assert await service.step() is False

    assert world.cursor() is None
    assert service.status.last_error == "unexpected ValueError"


async def test_run_backs_off_after_failures_and_stops_when_asked(world: World) -> None:
    asked: list[int] = []
    stop = asyncio.Event()

    class CountingBackoff(Backoff):
        def delay(self, failures: int) -> float:
            asked.append(failures)
            if failures == 3:
                stop.set()
            return 0.001

    world.journal.fail_events = AllegroUnavailable("HTTP 503 from Allegro")
    service = OfferEvents(
        world.journal, world.catalog, world.store, KafkaOfferEncoder(), world.publisher,
        ACCOUNT, world.clock, OfferEventSettings(poll_seconds=60), backoff=CountingBackoff(),
    )  # fmt: skip

    await asyncio.wait_for(service.run(stop), timeout=2)

    assert asked == [1, 2, 3]


async def test_run_polls_back_to_back_while_more_is_waiting_then_stops(world: World) -> None:
    for offer_id in (A, B, C, D, E):
        world.change(offer_id, stock=1)
    service = world.service(page_size=2, poll_seconds=60)
    stop = asyncio.Event()

    task = asyncio.ensure_future(service.run(stop))
    for _ in range(200):
        if service.status.polls >= 3:
            break
        await asyncio.sleep(0.001)
    stop.set()
    await asyncio.wait_for(task, timeout=2)

    assert len(world.published()) == 5  # three pages without waiting the 60 s between them


# --- the stale cursor: a sweep of the listing ---------------------------------------------


async def test_after_25_hours_down_every_changed_offer_is_published_once_as_it_is_now(
    world: World,
) -> None:
    service = world.service(page_size=2)
    for offer_id in (A, B, C, D):
        world.change(offer_id, stock=10)
    while await service.step():
        pass
    assert len(world.published()) == 4
    world.journal.offer_reads.clear()
    down_at = world.clock.now()

    world.clock.advance(30 * 60)  # these events are past the journal's 24 h by the restart
    world.change(A, stock=3)
    world.change(A, stock=2)
    world.change(E, stock=7)  # a new offer
    world.clock.advance(20 * 3600)  # this one is still retained
    world.change(B, "OFFER_PRICE_CHANGED", stock=0, status="ENDED", ended_by="EMPTY_STOCK")
    world.clock.current = down_at + timedelta(hours=25)

    assert await service.step() is True  # the sweep: then the retained events
    assert world.cursor() == OfferCursor(None, world.clock.now())
    assert world.catalog.page_requests == 3  # every page of five offers, two by two
    assert sorted(world.journal.offer_reads) == [A, B, E]  # only what differs is read
    while await service.step():
        pass

    assert sorted(stocks(world.published()[4:])) == [(A, 2), (B, 0), (E, 7)]
    [b_now] = [p for p in world.published()[4:] if p["offer_id"] == B]
    assert (b_now["publication_status"], b_now["ended_by"]) == ("ENDED", "EMPTY_STOCK")
    assert service.status.sweeps == 1
    assert world.cursor() == OfferCursor(world.journal.entries[-1].position, world.clock.now())


async def test_a_cursor_read_within_23_hours_is_not_swept(world: World) -> None:
    service = world.service()
    world.change(A, stock=5)
    await service.step()
    for _ in range(3):  # a quiet journal: each empty poll renews when it was read
        world.clock.advance(22 * 3600)
        await service.step()

    assert world.catalog.page_requests == 0
    assert service.status.sweeps == 0
    assert world.cursor() == OfferCursor(world.journal.entries[-1].position, world.clock.now())


async def test_the_first_start_reads_from_the_oldest_retained_without_a_sweep(
    world: World,
) -> None:
    world.change(A, stock=5)

    await world.service().step()

    assert world.journal.event_reads == [(None, 1000)]
    assert world.catalog.page_requests == 0
    assert stocks(world.published()) == [(A, 5)]


async def test_a_sweep_cut_by_an_outage_starts_over_and_holds_the_cursor(world: World) -> None:
    service = world.service(page_size=1)
    world.change(A, stock=5)
    world.change(B, stock=5)
    await service.step()
    await service.step()
    stale = world.cursor()
    world.clock.advance(25 * 3600)
    world.change(A, stock=1)
    world.change(B, stock=1)
    world.journal.refuse[B] = AllegroUnavailable("HTTP 503 from Allegro")

    assert await service.step() is False
    assert world.cursor() == stale  # the first page was published, the cursor not restarted
    del world.journal.refuse[B]
    assert await service.step() is True

    assert sorted(stocks(world.published()[2:])) == [(A, 1), (B, 1)]
    assert world.cursor() == OfferCursor(None, world.clock.now())


# --- bounds -------------------------------------------------------------------------------


async def test_offer_reads_are_bounded_in_concurrency(world: World) -> None:
    ids = [f"1800000000{n:02d}" for n in range(20)]
    for offer_id in ids:
        world.change(offer_id, stock=1)

    await world.service(concurrency=8).step()

    assert world.journal.max_in_flight == 8
    assert sorted(world.journal.offer_reads) == ids
    assert [p["offer_id"] for p in world.published()] == ids  # in the page's order


async def test_pages_are_bounded_and_read_one_after_another(world: World) -> None:
    for offer_id in (A, B, C, D, E):
        world.change(offer_id, stock=1)
    service = world.service(page_size=2)

    assert [await service.step() for _ in range(3)] == [True, True, False]

    assert [limit for _, limit in world.journal.event_reads] == [2, 2, 2]
    assert len(world.published()) == 5


async def test_a_journal_that_answers_the_same_full_page_again_is_not_polled_back_to_back(
    world: World,
) -> None:
    for offer_id in (A, B):
        world.change(offer_id, stock=1)
    service = world.service(page_size=2)
    page = await world.journal.events(None, 2)
    world.journal.event_reads.clear()

    async def same_page(after: str | None, limit: int) -> Any:  # `from` ignored
        world.journal.event_reads.append((after, limit))
        return page

    world.journal.events = same_page  # type: ignore[method-assign]

    assert [await service.step() for _ in range(2)] == [True, False]


@pytest.mark.parametrize(
    ("settings", "refusal"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1001}, "page_size"),
        ({"concurrency": 0}, "concurrency"),
        ({"poll_seconds": 0}, "poll_seconds"),
    ],
)
def test_settings_out_of_bounds_are_refused(settings: dict[str, Any], refusal: str) -> None:
    with pytest.raises(ValueError, match=refusal):
        OfferEventSettings(**settings)


async def test_status_counts_what_the_path_did(world: World) -> None:
    service = world.service()
    world.change(A, stock=5)
    world.change(A, stock=4)
    world.journal.emit_unreadable("?", "not JSON")
    world.journal.emit(C)  # gone

    await service.step()

    status = service.status
    assert (status.polls, status.events_read, status.offers_read) == (1, 4, 2)
    assert (status.offers_published, status.dead_letters) == (1, 1)
    assert status.last_poll_at == T0
    assert (status.cursor, status.cursor_read_at) == (world.journal.entries[-1].position, T0)
