"""The command loop: result sent, then offset committed, per record in partition order; an
outage rewinds and holds the partition (nothing skipped), a crash re-delivers, and neither
repeats an effect nor changes a result's bytes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from adapters.inmemory import InMemoryEventPublisher
from adapters.kafka.commands import KafkaResultEncoder
from application.apply_command import ApplyCommand, Carriers
from application.command_loop import CommandLoop
from application.poll_loop import Backoff
from application.ports import AllegroUnavailable, PublishError
from application.ports.commands import Position, ReceivedCommand
from application.ports.publisher import COMMAND_RESULTS, DEAD_LETTERS
from domain.commands import AddShipment, SetFulfillmentStatus
from tests.support.builders import make_order_snapshot
from tests.support.command_source import FakeCommandSource, HeldSender
from tests.support.fakes import FakeAllegro, FakeClock

ACCOUNT = "shop-1"
ORDER_A = "aaaaaaaa-0000-4000-8000-00000000000a"
ORDER_B = "bbbbbbbb-0000-4000-8000-00000000000b"
AT = datetime(2026, 3, 14, 12, tzinfo=UTC)
ANYWHERE = Position(0, 0)


class Killed(BaseException):
    """The process dying (not an error the loop may handle; asyncio re-raises SystemExit out
    of the event loop instead of into the awaiting task, so a test cannot catch that one)."""


@pytest.fixture
def allegro() -> FakeAllegro:
    allegro = FakeAllegro()
    for order_id in (ORDER_A, ORDER_B):
        allegro.forms[order_id] = make_order_snapshot(id=order_id, revision="r1")
    return allegro


def loop(
    allegro: FakeAllegro, source: FakeCommandSource, results: InMemoryEventPublisher
) -> CommandLoop:
    applying = ApplyCommand(allegro, allegro, Carriers(allegro, FakeClock()))
    return CommandLoop(
        source, applying, KafkaResultEncoder(), results, ACCOUNT, Backoff(jitter=lambda: 1.0)
    )


def command(order_id: str = ORDER_A, waybill: str = "AB1") -> ReceivedCommand:
    shipment = AddShipment(uuid.uuid4(), ACCOUNT, order_id, "INPOST", waybill)
    return ReceivedCommand(ANYWHERE, AT, "{}", command=shipment)


def results(publisher: InMemoryEventPublisher) -> list[bytes]:
    return [m.value for m in publisher.sent if m.channel == COMMAND_RESULTS]


async def test_each_command_gets_its_result_before_its_offset_is_committed(allegro) -> None:
    source, publisher = FakeCommandSource(), InMemoryEventPublisher()
    source.add(0, command(waybill="A1"))
    source.add(0, command(waybill="A2"))
    source.add(1, ReceivedCommand(ANYWHERE, AT, "{}", foreign=True))
    source.add(1, ReceivedCommand(ANYWHERE, AT, "{oops", unreadable="the value is not JSON"))

    assert await loop(allegro, source, publisher).step() == 0.0

    assert len(results(publisher)) == 2
    assert [m.channel for m in publisher.sent] == [COMMAND_RESULTS, COMMAND_RESULTS, DEAD_LETTERS]
    assert source.committed == {0: 2, 1: 2}
    assert len(allegro.shipments_of[ORDER_A]) == 2


async def test_an_allegro_outage_holds_the_partition_and_skips_nothing(allegro) -> None:
    source, publisher = FakeCommandSource(), InMemoryEventPublisher()
    source.add(0, command(ORDER_A, "A1"))
    source.add(0, command(ORDER_A, "A2"))
    source.add(1, command(ORDER_B, "B1"))
    commands = loop(allegro, source, publisher)
    allegro.fail_writes = AllegroUnavailable("503 from Allegro")

    assert await commands.step() > 0  # backing off

    assert source.committed == {}
    assert results(publisher) == []
    allegro.fail_writes = None
    await commands.step()
    assert source.committed == {0: 2, 1: 1}
    assert [s.waybill for s in allegro.shipments_of[ORDER_A]] == ["A1", "A2"]  # in order
    assert len(results(publisher)) == 3


async def test_a_result_the_broker_did_not_take_is_re_sent_identical_and_the_effect_not_repeated(
    allegro,
) -> None:
    source, publisher = FakeCommandSource(), InMemoryEventPublisher()
    source.add(0, command(ORDER_A, "A1"))
    commands = loop(allegro, source, publisher)
    publisher.fail_with = PublishError("broker down")
    await commands.step()
    assert source.committed == {}
    publisher.fail_with = None

    await commands.step()

    assert len(allegro.shipments_of[ORDER_A]) == 1
    assert len(results(publisher)) == 1
    assert source.committed == {0: 1}


async def test_a_crash_after_the_result_re_delivers_and_re_sends_the_same_bytes(allegro) -> None:
    source, publisher = FakeCommandSource(), InMemoryEventPublisher()
    status = SetFulfillmentStatus(uuid.uuid4(), ACCOUNT, ORDER_A, "SENT", expected_revision="r1")
    source.add(0, ReceivedCommand(ANYWHERE, AT, "{}", command=status))
    first = loop(allegro, source, publisher)
    inner_commit = source.commit

    async def crash(position: Position) -> None:  # killed before the commit
        raise Killed

    source.commit = crash  # type: ignore[method-assign]
    with pytest.raises(Killed):
        await first.step()
    source.commit = inner_commit  # type: ignore[method-assign]
    source.restart()

    await loop(allegro, source, publisher).step()

    sent = results(publisher)
    assert len(sent) == 2
    assert sent[0] == sent[1]  # same result id, same bytes: consumers deduplicate
    changes = [e for e in allegro.events if e.type == "FULFILLMENT_STATUS_CHANGED"]
    assert len(changes) == 1  # the re-delivered PUT carried r1: refused, nothing changed
    assert source.committed == {0: 1}


async def test_a_quiet_round_after_a_broker_hiccup_ends_the_failure_streak(allegro) -> None:
    source, publisher = FakeCommandSource(), InMemoryEventPublisher()
    commands = loop(allegro, source, publisher)
    source.fail_with = PublishError("broker down")
    await commands.step()
    assert commands.status.consecutive_failures == 1
    source.fail_with = None

    assert await commands.step() == 0.0  # nothing arrived, and nothing failed

    assert commands.status.consecutive_failures == 0


async def test_each_round_reports_what_is_still_waiting_on_the_topic(allegro) -> None:
    source, publisher = FakeCommandSource(max_records=2), InMemoryEventPublisher()
    commands = loop(allegro, source, publisher)
    assert commands.status.lag is None  # not known before a round
    for waybill in ("A1", "A2", "A3"):
        source.add(0, command(waybill=waybill))

    await commands.step()
    assert commands.status.lag == 1  # two delivered, one still on the topic

    await commands.step()
    assert commands.status.lag == 0


async def test_a_round_that_holds_two_partitions_counts_one_failure(allegro) -> None:
    source, publisher = FakeCommandSource(), InMemoryEventPublisher()
    source.add(0, command(ORDER_A, "A1"))
    source.add(1, command(ORDER_B, "B1"))
    commands = loop(allegro, source, publisher)
    allegro.fail_writes = AllegroUnavailable("503 from Allegro")

    await commands.step()

    assert commands.status.consecutive_failures == 1  # rounds, not records
    assert source.rewinds == [Position(0, 0), Position(1, 0)]


async def test_a_stop_while_a_result_is_sent_lets_its_commit_complete(allegro) -> None:
    """A stop cuts the round, but not between a result and its commit: a stopped service
    never answers a record twice."""
    source, publisher = FakeCommandSource(), HeldSender()
    source.add(0, command(waybill="A1"))
    stop = asyncio.Event()
    running = asyncio.create_task(loop(allegro, source, publisher).run(stop))
    await asyncio.wait_for(publisher.entered.wait(), timeout=1.0)

    stop.set()
    for _ in range(5):
        await asyncio.sleep(0)
    publisher.release.set()
    await asyncio.wait_for(running, timeout=1.0)

    assert len(results(publisher)) == 1
    assert source.committed == {0: 1}
