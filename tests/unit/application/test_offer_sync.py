"""The inventory loop: rounds of offer commands planned, staged, written to Allegro as batch
commands, answered one result per command, then committed; a staged round is finished after a
crash or a stop with the same ids and the same result bytes; outages hold the round."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.inmemory import InMemoryEventPublisher
from adapters.kafka.commands import KafkaResultEncoder
from adapters.persistence.memory_offer_store import MemoryOfferStore
from application.batch_commands import ReportPolicy
from application.offer_sync import OfferSync, OfferSyncLimits, Sleep
from application.poll_loop import Backoff
from application.ports import AllegroUnavailable, PublishError
from application.ports.commands import Position, Received
from application.ports.errors import AllegroRejected, ConsumeError, StateStoreError
from application.ports.offers import CommandIdUsed, OfferRound
from application.ports.publisher import COMMAND_RESULTS, DEAD_LETTERS
from application.sku_index import SkuIndex
from domain.commands import CommandFailed, FailureReason
from domain.money import Money
from domain.offers import (
    BatchCommand,
    BatchKind,
    OfferCommand,
    OfferRecord,
    PublicationAction,
    SetPrice,
    SetStock,
)
from tests.support.command_source import FakeRecordSource, HeldSender
from tests.support.fakes import FakeClock
from tests.support.offer_fakes import FakeOfferCatalog, listed
from tests.support.offer_writer_fake import FakeOfferWriter

ACCOUNT = "shop-1"
AT = datetime(2026, 3, 14, 12, tzinfo=UTC)
ANYWHERE = Position(0, 0)
OFFERS = {"A": ("11", "12"), "B": ("21",), "C": ("31",)}


class Crash(Exception):
    """The process dies here (not a port error: nothing handles it)."""


@dataclass
class World:
    """Everything outside the loop, shared by the processes a test starts one after another."""

    source: FakeRecordSource[OfferCommand] = field(default_factory=FakeRecordSource)
    catalog: FakeOfferCatalog = field(
        default_factory=lambda: FakeOfferCatalog(
            listed(offer_id, sku) for sku, ids in OFFERS.items() for offer_id in ids
        )
    )
    writer: FakeOfferWriter = field(default_factory=FakeOfferWriter)
    store: MemoryOfferStore = field(default_factory=MemoryOfferStore)
    sender: InMemoryEventPublisher = field(default_factory=InMemoryEventPublisher)
    clock: FakeClock = field(default_factory=FakeClock)
    sleeps: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.writer.offers(*(o for ids in OFFERS.values() for o in ids))

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def process(self, sleep: Sleep | None = None, **limits: Any) -> OfferSync:
        """A new process of the service over the same outside world."""
        return OfferSync(
            self.source,
            SkuIndex(self.catalog, self.clock),
            self.writer,
            self.store,
            KafkaResultEncoder(),
            self.sender,
            ACCOUNT,
            self.clock,
            Backoff(jitter=lambda: 1.0),
            OfferSyncLimits(**limits),
            sleep=sleep or self.sleep,
        )

    def results(self) -> list[dict[str, Any]]:
        return [json.loads(value) for value in self.result_bytes()]

    def result_bytes(self) -> list[bytes]:
        return [m.value for m in self.sender.sent if m.channel == COMMAND_RESULTS]

    def round_done(self) -> bool | None:
        staged = self.store.rounds.get(ACCOUNT)
        return None if staged is None else staged[1]


def stock(sku: str, available: int) -> Received[OfferCommand]:
    return Received(ANYWHERE, AT, "{}", command=SetStock(uuid.uuid4(), ACCOUNT, sku, available))


def price(sku: str, amount: str) -> Received[OfferCommand]:
    command = SetPrice(uuid.uuid4(), ACCOUNT, sku, Money.parse(amount, "PLN"))
    return Received(ANYWHERE, AT, "{}", command=command)


def add(world: World, partition: int, *records: Received[OfferCommand]) -> list[uuid.UUID]:
    """Records appended to `partition`; the ids of their commands."""
    ids = []
    for record in records:
        world.source.add(partition, record)
        if record.command is not None:
            ids.append(record.command.command_id)
    return ids


def command_ids(results: list[dict[str, Any]]) -> list[uuid.UUID]:
    return [uuid.UUID(r["command_id"]) for r in results]


async def test_a_burst_writes_the_latest_value_per_offer_and_answers_every_command() -> None:
    world = World()
    ids = add(world, 0, stock("A", 5), stock("B", 9), stock("A", 7), price("A", "19.99"))
    ids += add(world, 1, stock("C", 7), stock("B", 2))
    sync = world.process()

    assert await sync.step() == 0.0

    assert {o: world.writer.stock[o] for o in ("11", "12", "21", "31")} == {
        "11": 7,
        "12": 7,
        "21": 2,
        "31": 7,
    }
    assert [(c.kind, c.quantity, c.offer_ids) for c in world.writer.commands()] == [
        (BatchKind.QUANTITY, 2, ("21",)),
        (BatchKind.QUANTITY, 7, ("11", "12", "31")),  # one command for one value
        (BatchKind.PRICE, None, ("11", "12")),
    ]
    assert world.writer.prices[("11", None)] == Money.parse("19.99", "PLN")
    results = world.results()
    assert command_ids(results) == ids  # one each, in arrival order
    assert [r["sku"] for r in results] == ["A", "B", "A", "A", "C", "B"]
    assert {r["result_type"] for r in results} == {"CommandSucceeded"}
    assert world.source.committed == {0: 4, 1: 2}
    assert world.round_done() is True
    assert (sync.status.rounds, sync.status.batch_commands_sent, sync.status.offers_written) == (
        1,
        3,
        6,
    )
    assert (sync.status.succeeded, sync.status.pending_offers) == (6, 0)


async def test_stock_0_ends_the_offers_and_stock_back_re_activates_them() -> None:
    world = World()
    sync = world.process()
    add(world, 0, stock("A", 3), stock("A", 0))
    await sync.step()
    assert [(c.kind, c.action) for c in world.writer.commands()] == [
        (BatchKind.PUBLICATION, PublicationAction.END)
    ]
    assert world.writer.status["11"] == world.writer.status["12"] == "ENDED"
    assert world.store.ended[ACCOUNT] == {"11", "12"}

    add(world, 0, stock("A", 4))
    await sync.step()

    restock, activate = world.writer.commands()[1:]
    assert (restock.kind, restock.quantity, restock.offer_ids) == (
        BatchKind.QUANTITY,
        4,
        ("11", "12"),
    )
    assert (activate.action, activate.offer_ids) == (PublicationAction.ACTIVATE, ("11", "12"))
    sent = [command_id for command_id, _ in world.writer.sent]
    assert sent.index(restock.command_id) < sent.index(activate.command_id)
    assert world.writer.status["11"] == world.writer.status["12"] == "ACTIVE"
    assert world.store.ended[ACCOUNT] == set()
    assert {r["result_type"] for r in world.results()} == {"CommandSucceeded"}


async def test_offers_allegro_ended_for_empty_stock_are_re_activated_others_not() -> None:
    world = World()
    world.store.records[ACCOUNT] = {
        "21": OfferRecord("21", "v", "EMPTY_STOCK", "ENDED"),
        "31": OfferRecord("31", "v", "USER", "ENDED"),  # the seller ended it: stays ended
    }
    world.writer.status.update({"21": "ENDED", "31": "ENDED"})
    add(world, 0, stock("B", 3), stock("C", 3))

    await world.process().step()

    [activate] = world.writer.commands(BatchKind.PUBLICATION)
    assert activate.offer_ids == ("21",)
    assert (world.writer.status["21"], world.writer.status["31"]) == ("ACTIVE", "ENDED")


async def test_a_round_interrupted_after_staging_is_finished_as_planned_with_the_same_ids() -> None:
    world = World()
    ids = add(world, 0, stock("A", 0), stock("B", 5), price("C", "10.00"))

    async def crash(command: BatchCommand) -> None:
        raise Crash

    world.writer.report = crash  # type: ignore[method-assign,assignment]
    with pytest.raises(Crash):
        await world.process().step()  # every batch command sent, none followed
    del world.writer.report
    planned = list(world.writer.accepted)
    assert world.round_done() is False
    assert world.results() == []

    world.catalog.offers.append(listed("13", "A"))  # planned without it: finished without it
    world.writer.offers("13")
    world.source.restart()
    await world.process().step()

    assert list(world.writer.accepted) == planned  # no new command: every one answered 409
    assert [command_id for command_id, _ in world.writer.sent] == planned + planned
    assert world.writer.reused_with_other_content == []
    assert command_ids(world.results()) == ids  # the records were not applied twice
    assert world.source.committed == {0: 3}
    assert world.round_done() is True


async def test_results_re_sent_after_a_crash_before_the_round_is_done_are_byte_identical() -> None:
    world = World()
    world.writer.failing["12"] = ("The offer is archived", "ARCHIVED")
    add(world, 0, stock("A", 0), stock("B", 5), stock("A", 6), stock("X", 1))
    world.store.ended[ACCOUNT] = {"11", "12", "21"}  # B's offer comes back: re-activated

    async def crash(account: str, ended: object, reactivated: object) -> None:
        raise Crash  # after the results were sent, before the round is marked done

    world.store.finish_round = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await world.process().step()
    del world.store.finish_round
    assert world.source.committed == {}  # nothing committed before the round is done
    first = world.result_bytes()
    assert len(first) == 4
    assert world.round_done() is False

    reads = (len(world.writer.sent), sum(world.writer.report_calls.values()))
    world.source.restart()
    await world.process().step()

    assert world.result_bytes() == first + first
    # finished from the outcome stored with the round: Allegro is not asked again
    assert (len(world.writer.sent), sum(world.writer.report_calls.values())) == reads
    assert len(world.writer.sent) == len(world.writer.accepted)
    assert world.store.ended[ACCOUNT] == {"12"}  # its quantity failed: not re-activated


async def test_a_round_finished_again_answers_from_its_stored_outcome_not_from_allegro() -> None:
    world = World()
    world.writer.reject_with = AllegroRejected("bad request", 422, "VALIDATION_ERROR")
    add(world, 0, stock("B", 5))

    async def crash(account: str, ended: object, reactivated: object) -> None:
        raise Crash  # after the results were sent, before the round is marked done

    world.store.finish_round = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await world.process().step()
    del world.store.finish_round
    first = world.result_bytes()
    stored = world.store.rounds[ACCOUNT][0].outcome
    assert stored is not None
    assert [(t.offer_id, t.failure.code) for t in stored.failed] == [("21", "VALIDATION_ERROR")]
    # Asked again, Allegro would answer otherwise: the id is used now (409), and the
    # command it refused has no report (404).
    world.writer.reject_with = CommandIdUsed("already used", 409, "CONFLICT")

    world.source.restart()
    await world.process().step()

    assert world.result_bytes() == first + first
    assert json.loads(first[0])["code"] == "VALIDATION_ERROR"
    assert len(world.writer.sent) == 1  # not sent again
    assert world.round_done() is True


async def test_a_store_outage_storing_the_outcome_does_not_ask_allegro_again() -> None:
    world = World()
    world.writer.reject_with = AllegroRejected("bad request", 422, "VALIDATION_ERROR")
    add(world, 0, stock("B", 5))
    stage_round, stagings = world.store.stage_round, 0

    async def second_staging_fails(account: str, offer_round: OfferRound) -> None:
        nonlocal stagings
        stagings += 1
        if stagings == 2:  # the round staged again with its outcome
            raise StateStoreError("disk full")
        await stage_round(account, offer_round)

    world.store.stage_round = second_staging_fails  # type: ignore[method-assign]
    sync = world.process()
    assert await sync.step() > 0
    assert world.results() == []
    assert world.store.rounds[ACCOUNT][0].outcome is None
    world.writer.reject_with = CommandIdUsed("already used", 409, "CONFLICT")

    assert await sync.step() == 0.0

    [result] = world.results()
    assert result["code"] == "VALIDATION_ERROR"
    assert len(world.writer.sent) == 1
    assert world.store.rounds[ACCOUNT][0].outcome is not None  # stored before the results
    assert (stagings, world.round_done()) == (3, True)


@pytest.mark.parametrize("restarted", [False, True], ids=["same-process", "restarted"])
async def test_a_record_answered_before_the_last_round_is_not_applied_again(
    restarted: bool,
) -> None:
    """Killed after round N is done, before its offsets are committed; after the restart
    round N+1 (partition 0's records only) is done before N's record on partition 1 comes
    back: the answered map, carried and stored by N+1, skips it."""
    world = World()
    ids = add(world, 0, stock("A", 10)) + add(world, 1, stock("B", 10))

    async def killed(position: Position) -> None:
        raise Crash

    world.source.commit = killed  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await world.process().step()
    del world.source.commit
    assert (world.round_done(), world.source.committed) == (True, {})
    world.writer.stock["21"] = 7  # a sale on Allegro took B's stock to 7
    ids += add(world, 0, stock("A", 8))
    world.source.restart()
    world.source.max_records = 2  # the first receive holds partition 0's records only
    sync = world.process(max_records=2)

    await sync.step()
    assert world.writer.commands()[-1].quantity == 8  # round N+1: p0:1 alone
    assert (world.round_done(), world.source.committed) == (True, {0: 2})
    if restarted:
        world.source.restart()
        sync = world.process()
    await sync.step()  # partition 1's record comes back

    assert world.writer.stock["21"] == 7
    assert command_ids(world.results()) == ids  # one result each
    assert world.source.committed == {0: 2, 1: 1}
    stored = world.store.rounds[ACCOUNT][0]
    assert stored.answered == (Position(0, 0), Position(1, 0))  # the map before N+1


async def test_a_round_finished_before_the_partitions_are_held_commits_at_the_next_round() -> None:
    world = World()
    add(world, 0, stock("A", 5))

    async def refused(position: Position) -> None:  # aiokafka: "partition not assigned"
        raise ConsumeError("No partitions assigned")

    world.source.commit = refused  # type: ignore[method-assign]
    sync = world.process()
    assert await sync.step() == 0.0  # the round is done; its commit is left for later
    del world.source.commit
    assert world.round_done() is True
    assert world.source.committed == {}

    add(world, 1, stock("B", 6))  # another partition: its commit does not cover partition 0
    await sync.step()
    assert world.source.committed == {0: 1, 1: 1}  # past both rounds' records
    assert len(world.results()) == 2  # one result each


async def test_records_a_done_round_covers_are_committed_and_not_applied_again() -> None:
    world = World()
    add(world, 0, stock("A", 5), stock("B", 6))

    async def lost(position: Position) -> None:  # the broker lost the commit
        return None

    world.source.commit = lost  # type: ignore[method-assign]
    await world.process().step()
    del world.source.commit
    assert world.round_done() is True
    assert world.source.committed == {}
    sent, results = list(world.writer.sent), world.results()

    world.source.restart()  # both records are delivered again
    sync = world.process()
    await sync.step()

    assert world.writer.sent == sent
    assert world.results() == results
    assert world.source.committed == {0: 2}
    assert sync.status.rounds == 0


async def test_a_sku_without_offers_is_answered_unknown_sku_and_not_retried() -> None:
    world = World()
    sync = world.process()
    [command_id] = add(world, 0, stock("NOPE", 5))

    assert await sync.step() == 0.0
    add(world, 0, stock("NOPE", 6))
    assert await sync.step() == 0.0

    first, second = world.results()
    assert (first["result_type"], first["reason"], first["code"]) == (
        "CommandFailed",
        "rejected",
        "UNKNOWN_SKU",
    )
    assert uuid.UUID(first["command_id"]) == command_id
    assert second["code"] == "UNKNOWN_SKU"
    assert world.writer.sent == []
    assert world.catalog.skus_asked == ["NOPE"]  # not asked again within the miss interval
    assert (sync.status.consecutive_failures, world.source.committed) == (0, {0: 2})


async def test_a_failed_task_fails_the_commands_of_its_sku_with_allegros_message() -> None:
    world = World()
    world.writer.failing["12"] = ("The offer is archived", "ARCHIVED")
    sync = world.process()
    add(world, 0, stock("A", 5), stock("B", 1), stock("A", 6))

    await sync.step()

    first, b, last = world.results()
    for failed in (first, last):
        assert (failed["result_type"], failed["reason"]) == ("CommandFailed", "rejected")
        assert (failed["code"], failed["message"]) == ("ARCHIVED", "The offer is archived")
    assert b["result_type"] == "CommandSucceeded"
    assert world.writer.task_reads == [world.writer.commands()[1].command_id]
    assert sync.status.failed_by_reason == {"rejected": 2}


async def test_a_whole_command_refused_by_allegro_is_a_result_not_a_retry() -> None:
    world = World()
    world.writer.reject_with = AllegroRejected("bad request", 422, "VALIDATION_ERROR")
    sync = world.process()
    add(world, 0, stock("B", 5))

    assert await sync.step() == 0.0

    [result] = world.results()
    assert (result["result_type"], result["code"]) == ("CommandFailed", "VALIDATION_ERROR")
    assert world.round_done() is True


@pytest.mark.parametrize("call", ["send", "report", "tasks"])
async def test_an_allegro_outage_holds_the_staged_round_and_retries_it(call: str) -> None:
    world = World()
    world.writer.failing["21"] = ("The offer is archived", "ARCHIVED")  # `tasks` is read
    world.writer.fail_with, world.writer.fail_calls = AllegroUnavailable("503"), {call}
    sync = world.process()
    ids = add(world, 0, stock("A", 5), stock("B", 6))

    assert await sync.step() > 0

    assert world.round_done() is False
    assert world.results() == []
    assert world.source.committed == {}
    assert world.source.rewinds == []
    assert (sync.status.consecutive_failures, sync.status.pending_offers) == (1, 3)
    assert sync.status.last_error == "AllegroUnavailable: 503"
    world.writer.fail_with = None

    assert await sync.step() == 0.0

    assert command_ids(world.results()) == ids
    assert world.round_done() is True
    assert world.source.committed == {0: 2}
    assert world.writer.reused_with_other_content == []
    assert sync.status.consecutive_failures == 0


@pytest.mark.parametrize("failing", ["catalog", "store"])
async def test_an_outage_before_the_round_is_staged_rewinds_its_records(failing: str) -> None:
    world = World()
    sync = world.process()
    await sync.step()  # the store's round was read: what fails now is planning and staging
    if failing == "catalog":
        world.catalog.fail_with = AllegroUnavailable("503")
    else:
        world.store.fail_with = StateStoreError("disk full")
    ids = add(world, 0, stock("A", 5))
    ids += add(world, 1, stock("B", 6))

    assert await sync.step() > 0

    assert world.store.rounds == {}
    assert world.writer.sent == []
    assert world.source.rewinds == [Position(0, 0), Position(1, 0)]
    world.catalog.fail_with = world.store.fail_with = None
    await sync.step()
    assert command_ids(world.results()) == ids


async def test_a_broker_outage_on_the_results_holds_the_round_and_re_sends_the_same_bytes() -> None:
    world = World()
    sync = world.process()
    add(world, 0, stock("A", 5), price("B", "3.50"))
    world.sender.fail_with = PublishError("broker down")

    assert await sync.step() > 0

    assert world.source.committed == {}
    assert world.round_done() is False
    world.sender.fail_with = None
    await sync.step()
    assert len(world.results()) == 2
    assert world.round_done() is True
    assert world.source.committed == {0: 2}


async def test_report_polling_backs_off_from_0_2_to_5_seconds() -> None:
    world = World()
    world.writer.final_after = 8
    add(world, 0, stock("B", 5))

    await world.process().step()

    assert world.sleeps == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert len(world.results()) == 1


async def test_a_command_allegro_never_finishes_is_an_outage_after_a_bounded_wait() -> None:
    world = World()
    world.writer.final_after = 10**9
    sync = world.process(report=ReportPolicy(max_wait=30.0))
    add(world, 0, stock("B", 5))

    assert await sync.step() > 0

    assert sum(world.sleeps) == 30.0
    assert max(world.sleeps) == 5.0
    assert sync.status.last_error is not None
    assert sync.status.last_error.startswith("BatchReportTimeout")
    assert world.round_done() is False
    assert world.results() == []


async def test_a_command_allegro_never_finalises_fails_its_offers_after_3_waits() -> None:
    world = World()
    world.writer.final_after = 10**9
    sync = world.process(report=ReportPolicy(max_wait=30.0))
    [command_id] = add(world, 0, stock("B", 5))

    assert await sync.step() > 0
    assert await sync.step() > 0
    assert world.results() == []
    assert await sync.step() == 0.0  # the third wait ends it

    [result] = world.results()
    assert (result["result_type"], result["reason"], result["code"]) == (
        "CommandFailed",
        "rejected",
        "BATCH_NOT_FINAL",
    )
    assert "whether it was applied is unknown" in result["message"]
    assert uuid.UUID(result["command_id"]) == command_id
    assert sum(world.sleeps) == 90.0
    assert (world.round_done(), world.source.committed) == (True, {0: 1})
    world.writer.final_after = 2  # Allegro works again: the next stock command is applied
    add(world, 0, stock("B", 6))
    await sync.step()
    assert world.results()[-1]["result_type"] == "CommandSucceeded"
    assert world.writer.stock["21"] == 6


async def test_a_command_answered_as_never_final_is_answered_the_same_after_a_crash() -> None:
    world = World()
    world.writer.final_after = 10**9
    add(world, 0, stock("B", 5))
    sync = world.process(report=ReportPolicy(max_wait=30.0, timeouts=1))

    async def crash(account: str, ended: object, reactivated: object) -> None:
        raise Crash

    world.store.finish_round = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await sync.step()
    del world.store.finish_round
    first = world.result_bytes()
    world.writer.final_after = 1  # now Allegro would say it is final and succeeded

    world.source.restart()
    await world.process().step()

    assert world.result_bytes() == first + first
    assert json.loads(first[0])["code"] == "BATCH_NOT_FINAL"


async def test_unreadable_refused_and_foreign_records_are_answered_before_the_round() -> None:
    world = World()
    refusal = CommandFailed(
        uuid.uuid4(), "SetStock", ACCOUNT, None, AT, FailureReason.INVALID, "available < 0"
    )
    add(
        world,
        0,
        stock("A", 5),
        Received(ANYWHERE, AT, "{oops", unreadable="the value is not JSON"),
        Received(ANYWHERE, AT, "{}", refused=refusal),
        Received(ANYWHERE, AT, "{}", foreign=True),
    )
    sync = world.process()

    await sync.step()

    assert [m.channel for m in world.sender.sent] == [
        DEAD_LETTERS,
        COMMAND_RESULTS,
        COMMAND_RESULTS,
    ]
    assert world.sender.sent[0].key == b"offer-command-0-1"
    refused, done = world.results()
    assert (refused["reason"], done["result_type"]) == ("invalid", "CommandSucceeded")
    assert world.source.committed == {0: 4}
    assert (sync.status.rejected_records, sync.status.failed_by_reason) == (1, {"invalid": 1})


async def test_a_round_with_no_valid_command_is_only_answered_and_committed() -> None:
    world = World()
    add(world, 0, Received(ANYWHERE, AT, "{}", foreign=True))

    assert await world.process().step() == 0.0

    assert world.store.rounds == {}
    assert world.source.committed == {0: 1}


async def test_more_is_received_while_it_keeps_coming_up_to_the_round_limit() -> None:
    world = World()
    world.source.max_records = 2
    ids = add(world, 0, *(stock("B", n) for n in range(1, 6)))
    sync = world.process(max_records=4)

    await sync.step()

    [first] = world.writer.commands()
    assert first.quantity == 4  # the latest of the first four records
    assert world.source.committed == {0: 4}
    await sync.step()
    assert [c.quantity for c in world.writer.commands()] == [4, 5]
    assert command_ids(world.results()) == ids


async def test_a_stop_is_answered_promptly_and_the_round_is_finished_at_the_next_start() -> None:
    world = World()
    world.writer.final_after = 10**9
    add(world, 0, stock("B", 5))
    forever = asyncio.Event()

    async def long_sleep(seconds: float) -> None:
        await forever.wait()

    sync = world.process(sleep=long_sleep)  # Allegro is slow: the loop waits on its report
    stop = asyncio.Event()
    running = asyncio.create_task(sync.run(stop))
    for _ in range(100):
        if world.writer.report_calls:
            break
        await asyncio.sleep(0)
    stop.set()

    await asyncio.wait_for(running, timeout=1.0)

    assert world.writer.report_calls
    assert world.round_done() is False
    world.writer.final_after = 1
    world.source.restart()
    await world.process().step()
    assert world.round_done() is True
    assert len(world.results()) == 1
    assert [command_id for command_id, _ in world.writer.sent] == list(world.writer.accepted) * 2


async def test_a_stop_during_the_results_lets_their_send_and_the_commit_complete() -> None:
    world = World(sender=HeldSender())
    assert isinstance(world.sender, HeldSender)
    add(world, 0, stock("B", 5))
    stop = asyncio.Event()
    running = asyncio.create_task(world.process().run(stop))
    await asyncio.wait_for(world.sender.entered.wait(), timeout=1.0)

    stop.set()
    for _ in range(5):
        await asyncio.sleep(0)
    world.sender.release.set()
    await asyncio.wait_for(running, timeout=1.0)

    assert len(world.results()) == 1
    assert world.source.committed == {0: 1}
    assert world.round_done() is True
