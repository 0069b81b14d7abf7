"""The command path on /metrics: a real `CommandLoop` over fakes, its `CommandStatus` read at
scrape time into bounded series, rendered and parsed back as a scraper would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from adapters.inmemory import InMemoryEventPublisher
from adapters.kafka.commands import KafkaResultEncoder
from application.apply_command import ApplyCommand, Carriers
from application.command_loop import CommandLoop, CommandStatus
from application.poll_loop import Backoff, LoopStatus
from application.ports import AllegroUnavailable
from application.ports.commands import Position, ReceivedCommand
from domain.commands import AddShipment
from entrypoints.health import HealthChecks, Role, ServiceState, register_commands, register_gauges
from entrypoints.metrics import Metrics
from tests.support.builders import make_order_snapshot
from tests.support.command_source import FakeCommandSource
from tests.support.fakes import FakeAllegro, FakeClock, MemoryStateStore, MemoryTokenStore
from tests.unit.entrypoints.prometheus_text import parse_metrics

ACCOUNT = "shop"
KNOWN = "aaaaaaaa-0000-4000-8000-00000000000a"
UNKNOWN = "cccccccc-0000-4000-8000-00000000000c"  # not on Allegro: the command is rejected
AT = datetime(2026, 3, 14, 12, tzinfo=UTC)

SUCCEEDED = 'openoms_allegro_commands_total{account="shop",result="succeeded"}'
REJECTED = 'openoms_allegro_commands_total{account="shop",result="rejected"}'
CONFLICT = 'openoms_allegro_commands_total{account="shop",result="conflict"}'
INVALID = 'openoms_allegro_commands_total{account="shop",result="invalid"}'
NO_FAILURES = {REJECTED: 0, CONFLICT: 0, INVALID: 0}
DEAD_LETTERED = 'openoms_allegro_command_dead_letters_total{account="shop"}'
STREAK = 'openoms_allegro_command_consecutive_failures{account="shop"}'
LAG = 'openoms_allegro_command_lag_records{account="shop"}'


class Scraped:
    """A replica's metrics with the command path registered as `Runtime.open` does."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.clock = FakeClock()
        self.service = ServiceState()
        self.service.become(Role.SINGLE, self.clock.now())
        self.status = CommandStatus()
        self.metrics = Metrics()
        self.checks = HealthChecks(
            account=ACCOUNT,
            service=self.service,
            loop=LoopStatus(),
            state_store=MemoryStateStore(),
            token_store=MemoryTokenStore(),
            broker=_up,
            clock=self.clock,
            stale_after=timedelta(minutes=10),
        )
        register_gauges(self.metrics, self.service, LoopStatus(), ACCOUNT)
        register_commands(
            self.metrics, self.checks, self.service, self.status, ACCOUNT, enabled=enabled
        )

    def commands(self) -> dict[str, float]:
        samples = parse_metrics(self.metrics.render())
        return {
            name: value
            for name, value in samples.items()
            if name.startswith(("openoms_allegro_command_", "openoms_allegro_commands_"))
        }


async def _up() -> bool:
    return True


def command_loop(
    allegro: FakeAllegro, source: FakeCommandSource, status: CommandStatus
) -> CommandLoop:
    applying = ApplyCommand(allegro, allegro, Carriers(allegro, FakeClock()))
    return CommandLoop(
        source,
        applying,
        KafkaResultEncoder(),
        InMemoryEventPublisher(),
        ACCOUNT,
        Backoff(jitter=lambda: 0.0),
        status=status,
    )


def shipment(order_id: str, waybill: str) -> ReceivedCommand:
    added = AddShipment(uuid.uuid4(), ACCOUNT, order_id, "INPOST", waybill)
    return ReceivedCommand(Position(0, 0), AT, "{}", command=added)


def test_the_series_are_there_from_the_start_with_bounded_labels() -> None:
    assert Scraped().commands() == {SUCCEEDED: 0, **NO_FAILURES, DEAD_LETTERED: 0, STREAK: 0}


async def test_what_the_command_loop_did_is_what_a_scrape_reads() -> None:
    scraped, source, allegro = Scraped(), FakeCommandSource(), FakeAllegro()
    allegro.forms[KNOWN] = make_order_snapshot(id=KNOWN, revision="r1")
    source.add(0, shipment(KNOWN, "A1"))
    source.add(0, shipment(KNOWN, "A2"))
    source.add(1, shipment(UNKNOWN, "B1"))  # Allegro knows no such order: `rejected`
    source.add(1, ReceivedCommand(Position(0, 0), AT, "{oops", unreadable="not JSON"))
    loop = command_loop(allegro, source, scraped.status)

    await loop.step()

    assert scraped.commands() == {
        SUCCEEDED: 2,
        **NO_FAILURES,
        REJECTED: 1,
        DEAD_LETTERED: 1,
        STREAK: 0,
        LAG: 0,
    }
    source.add(0, shipment(KNOWN, "A3"))  # arrived, not yet delivered
    scraped.status.lag = source.lag()  # what the next round's receive reports first
    assert scraped.commands()[LAG] == 1


async def test_an_outage_shows_as_a_streak_that_a_success_ends() -> None:
    scraped, source, allegro = Scraped(), FakeCommandSource(), FakeAllegro()
    allegro.forms[KNOWN] = make_order_snapshot(id=KNOWN, revision="r1")
    source.add(0, shipment(KNOWN, "A1"))
    loop = command_loop(allegro, source, scraped.status)
    allegro.fail_writes = AllegroUnavailable("503 from Allegro")

    await loop.step()
    await loop.step()

    assert scraped.commands()[STREAK] == 2
    assert scraped.commands()[SUCCEEDED] == 0

    allegro.fail_writes = None
    await loop.step()

    assert scraped.commands()[STREAK] == 0
    assert scraped.commands()[SUCCEEDED] == 1


def test_a_standby_leaves_the_streak_out_and_keeps_its_counts() -> None:
    scraped = Scraped()
    scraped.status.succeeded, scraped.status.consecutive_failures = 7, 3  # its last term

    scraped.service.become(Role.STANDBY, scraped.clock.now())

    assert scraped.commands() == {SUCCEEDED: 7, **NO_FAILURES, DEAD_LETTERED: 0}


def test_with_commands_off_no_command_series_is_exposed() -> None:
    scraped = Scraped(enabled=False)
    scraped.status.succeeded = 1

    assert scraped.commands() == {}
