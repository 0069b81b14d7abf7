"""Applying OpenOMS's commands to Allegro exactly once in effect: every effect is checked
before it is repeated (a re-delivery, or a retry after a lost response, changes nothing more)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from application.apply_command import ApplyCommand, Carriers
from application.ports import AllegroUnavailable, UnreadableCheckoutForm
from domain.commands import (
    AddShipment,
    CommandFailed,
    CommandSucceeded,
    FailureReason,
    InvalidCommand,
    SetFulfillmentStatus,
    result_id,
)
from tests.support.builders import make_order_snapshot
from tests.support.fakes import FakeAllegro, FakeClock

ACCOUNT = "shop-1"
ORDER = "15d9e2a0-ea25-11f1-8f11-02fc00000001"
AT = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def allegro() -> FakeAllegro:
    allegro = FakeAllegro()
    allegro.forms[ORDER] = make_order_snapshot(id=ORDER, revision="r1", fulfillment_status="NEW")
    return allegro


def apply(allegro: FakeAllegro, clock: FakeClock | None = None) -> ApplyCommand:
    return ApplyCommand(allegro, allegro, Carriers(allegro, clock or FakeClock()))


def status(target: str, expected_revision: str | None = None) -> SetFulfillmentStatus:
    return SetFulfillmentStatus(uuid.uuid4(), ACCOUNT, ORDER, target, expected_revision)


def shipment(waybill: str = "AB123456789PL", carrier: str = "INPOST") -> AddShipment:
    return AddShipment(uuid.uuid4(), ACCOUNT, ORDER, carrier, waybill)


def puts(allegro: FakeAllegro) -> list[tuple[str, ...]]:
    return [w for w in allegro.writes if w[0] == "PUT fulfillment"]


def posts(allegro: FakeAllegro) -> list[tuple[str, ...]]:
    return [w for w in allegro.writes if w[0] == "POST shipments"]


async def test_a_status_without_expected_revision_is_sent_with_the_revision_read(allegro) -> None:
    command = status("PROCESSING")

    result = await apply(allegro)(command, AT)

    assert result == CommandSucceeded(
        command.command_id, "SetFulfillmentStatus", ACCOUNT, ORDER, AT
    )
    assert puts(allegro) == [("PUT fulfillment", ORDER, "PROCESSING", "r1")]
    assert allegro.forms[ORDER].fulfillment_status == "PROCESSING"


async def test_a_status_delivered_twice_is_written_once(allegro) -> None:
    command = status("PROCESSING")
    first = await apply(allegro)(command, AT)

    again = await apply(allegro)(command, AT)

    assert again == first
    assert len(puts(allegro)) == 1


async def test_a_stale_expected_revision_is_a_conflict_that_changes_nothing(allegro) -> None:
    command = status("SENT", expected_revision="r0")

    result = await apply(allegro)(command, AT)

    assert isinstance(result, CommandFailed)
    assert result.reason is FailureReason.CONFLICT
    assert (result.current_revision, result.current_status) == ("r1", "NEW")
    assert allegro.forms[ORDER].fulfillment_status == "NEW"


async def test_an_expected_revision_already_applied_before_a_crash_is_success(allegro) -> None:
    command = status("SENT", expected_revision="r1")
    allegro.lose_write_response = True  # applied, then the response was lost
    with pytest.raises(AllegroUnavailable):
        await apply(allegro)(command, AT)

    result = await apply(allegro)(command, AT)  # re-delivered: r1 is outdated now

    assert isinstance(result, CommandSucceeded)
    assert allegro.forms[ORDER].fulfillment_status == "SENT"


async def test_a_race_with_another_writer_is_read_again_and_retried(allegro) -> None:
    command = status("PROCESSING")
    inner_get = allegro.get
    raced = False

    async def get(form_id: str):  # the seller changes the order between our read and write
        nonlocal raced
        form = await inner_get(form_id)
        if not raced:
            raced = True
            await allegro.set_fulfillment_status(form_id, "READY_FOR_SHIPMENT", None)
        return form

    allegro.get = get  # type: ignore[method-assign]

    result = await apply(allegro)(command, AT)

    assert isinstance(result, CommandSucceeded)
    assert allegro.forms[ORDER].fulfillment_status == "PROCESSING"
    assert [w[2] for w in puts(allegro)] == ["READY_FOR_SHIPMENT", "PROCESSING", "PROCESSING"]


async def test_an_unknown_order_is_rejected(allegro) -> None:
    command = SetFulfillmentStatus(uuid.uuid4(), ACCOUNT, "no-such-order", "SENT")

    result = await apply(allegro)(command, AT)

    assert isinstance(result, CommandFailed)
    assert result.reason is FailureReason.REJECTED


async def test_a_shipment_is_posted_once_even_when_its_response_was_lost(allegro) -> None:
    command = shipment()
    allegro.lose_write_response = True
    with pytest.raises(AllegroUnavailable):
        await apply(allegro)(command, AT)

    result = await apply(allegro)(command, AT)

    assert isinstance(result, CommandSucceeded)
    assert len(allegro.shipments_of[ORDER]) == 1
    assert result.shipment_id == allegro.shipments_of[ORDER][0].id
    assert len(posts(allegro)) == 1


async def test_a_shipment_added_elsewhere_with_the_same_waybill_is_this_commands(allegro) -> None:
    await allegro.add_shipment(ORDER, "INPOST", "AB123456789PL", None, ())  # Sales Center

    result = await apply(allegro)(shipment(), AT)

    assert isinstance(result, CommandSucceeded)
    assert len(allegro.shipments_of[ORDER]) == 1


async def test_an_unknown_carrier_is_refused_before_any_post(allegro) -> None:
    result = await apply(allegro)(shipment(carrier="PIGEON_POST"), AT)

    assert isinstance(result, CommandFailed)
    assert result.reason is FailureReason.INVALID
    assert posts(allegro) == []


async def test_carriers_are_read_once_a_day(allegro) -> None:
    clock = FakeClock()
    applying = apply(allegro, clock)
    await applying(shipment("A1"), AT)
    await applying(shipment("A2"), AT)
    assert allegro.carrier_reads == 1

    clock.advance(timedelta(days=1).total_seconds())
    await applying(shipment("A3"), AT)

    assert allegro.carrier_reads == 2


async def test_a_waybill_allegro_refuses_is_rejected_with_its_code(allegro) -> None:
    result = await apply(allegro)(shipment(waybill="not a waybill!"), AT)

    assert isinstance(result, CommandFailed)
    assert (result.reason, result.code) == (FailureReason.REJECTED, "VALIDATION_ERROR")


def test_commands_that_break_their_own_rules_never_reach_allegro() -> None:
    with pytest.raises(InvalidCommand):
        SetFulfillmentStatus(uuid.uuid4(), ACCOUNT, ORDER, "RETURNED")
    with pytest.raises(InvalidCommand):
        AddShipment(uuid.uuid4(), ACCOUNT, ORDER, "INPOST", "x" * 65)
    with pytest.raises(InvalidCommand):
        AddShipment(uuid.uuid4(), ACCOUNT, ORDER, "OTHER", "AB1")  # OTHER needs a name


def test_a_result_id_depends_on_the_command_id_only() -> None:
    command_id = uuid.UUID("0b2a3c4d-0000-4000-8000-000000000001")
    assert result_id(command_id) == result_id(str(command_id))
    assert result_id(command_id) != result_id(uuid.uuid4())
    assert result_id(command_id) == uuid.uuid5(
        uuid.uuid5(uuid.NAMESPACE_URL, "https://openoms.org/integrations/allegro/results"),
        f"{command_id}|result",
    )


async def test_an_order_allegro_sends_unreadable_is_rejected_not_held(allegro) -> None:
    allegro.forms[ORDER] = UnreadableCheckoutForm(ORDER, "{not json", "body is not JSON")

    result = await apply(allegro)(status("SENT"), AT)  # held as an outage, forever

    assert isinstance(result, CommandFailed)
    assert (result.reason, result.code) == (FailureReason.REJECTED, "UNREADABLE_ORDER")
