"""The demo's rows and header: labelled, counted by topic, and free of buyer data."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from datetime import UTC, datetime

from rich.table import Table

from adapters.kafka.commands import KafkaResultEncoder, decode_command
from adapters.kafka.examples import (
    example_dead_letter,
    example_order_imported,
    example_order_status_changed,
    example_order_updated,
)
from adapters.kafka.messages import encode_dead_letter, encode_event, quarantine_record
from application.ports.commands import Position
from domain.commands import (
    AddShipment,
    CommandFailed,
    CommandSucceeded,
    FailureReason,
    SetFulfillmentStatus,
)
from domain.statuses import OrderStatus
from entrypoints.demo import (
    ACCOUNT,
    Tally,
    _command_record,
    _commands,
    _line,
    _result_line,
    _sent_line,
)

BUYER_DATA = (
    "jan_kowalski",
    "allegromail",
    "Kowalski",
    "500 600 700",
    "Przykładowa",
    "Poznań",
    "60-001",
    "zapakowanie",
)
AT_NOON_MS = 1_718_706_902_000


def decoded(value: bytes) -> dict[str, object]:
    message: dict[str, object] = json.loads(value)
    return message


def test_an_imported_order_shows_its_id_amount_and_statuses_and_no_buyer_data() -> None:
    tally = Tally()
    row = _line(tally, False, decoded(encode_event(example_order_imported()).value), AT_NOON_MS)

    assert re.fullmatch(
        r"\d\d:\d\d:\d\d  OrderImported\s+29ab6d20-2e47\s+138\.99 PLN  new/paid", row.plain
    )
    assert not [value for value in BUYER_DATA if value in row.plain]
    assert tally.published["OrderImported"] == 1


def test_a_status_change_shows_the_transition() -> None:
    tally = Tally()
    event = decoded(encode_event(example_order_status_changed()).value)

    row = _line(tally, False, event, AT_NOON_MS)

    assert "new → shipped (FULFILLMENT_STATUS_CHANGED)" in row.plain
    assert tally.published["OrderStatusChanged"] == 1


def test_an_update_shows_which_fields_changed_and_no_buyer_data() -> None:
    tally = Tally()
    event = decoded(encode_event(example_order_updated()).value)

    row = _line(tally, False, event, AT_NOON_MS)

    assert re.fullmatch(
        r"\d\d:\d\d:\d\d  OrderUpdated\s+29ab6d20-2e47\s+surcharges, total_to_pay", row.plain
    )
    assert not [value for value in BUYER_DATA if value in row.plain]
    assert tally.published["OrderUpdated"] == 1
    assert "updates 1" in tally.line()


def test_a_dead_letter_is_counted_by_its_topic_even_when_it_names_an_event_type() -> None:
    # An event too large to publish is quarantined with its `event_type`: it is a dead
    # letter all the same, and its error's detail (which may quote the payload) stays out.
    too_large = quarantine_record(
        encode_event(example_order_imported()), "record of 9999999 bytes: jan_kowalski", 4096
    )
    tally = Tally()

    row = _line(tally, True, decoded(too_large.value), AT_NOON_MS)

    assert "dead letter" in row.plain
    assert "jan_kowalski" not in row.plain
    assert (tally.dead_letters, sum(tally.published.values())) == (1, 0)


def test_the_header_labels_every_figure() -> None:
    tally = Tally()
    _line(tally, True, decoded(encode_dead_letter(example_dead_letter()).value), AT_NOON_MS)
    tally.lag_events, tally.lag_capped, tally.requests_last_minute = 1000, True, 42

    line = tally.line()

    for figure in ("dead letters 1", "lag (events) 1000+", "Allegro req/min 42 of 600"):
        assert figure in line
    assert header_labels(tally) == [label for label, _ in tally.figures()]


ORDER = "29ab6d20-2e47-11ef-9b72-6d2b5a7f3c11"
AT = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def result_message(result: CommandSucceeded | CommandFailed) -> dict[str, object]:
    return decoded(KafkaResultEncoder().encode_result(result).value)


def test_the_demo_sends_commands_the_service_reads_as_processing_a_shipment_then_sent() -> None:
    received = []
    for offset, command in enumerate(_commands(ORDER, 123)):
        key, value, headers = _command_record(command)
        assert key == ORDER.encode()  # one order's commands stay in order
        read = decode_command(value, headers, None, Position(0, offset), ACCOUNT)
        assert read.command is not None, (read.refused, read.unreadable)
        received.append(read.command)

    first, shipment, last = received
    assert isinstance(first, SetFulfillmentStatus)
    assert first.status == "PROCESSING"
    assert isinstance(shipment, AddShipment)
    assert (shipment.carrier_id, shipment.waybill) == ("INPOST", "DEMO0000123")
    assert isinstance(last, SetFulfillmentStatus)
    assert last.status == "SENT"
    assert {c.checkout_form_id for c in received} == {ORDER}
    assert len({c.command_id for c in received}) == 3


def test_a_result_row_names_the_command_it_answers_and_the_header_counts_both() -> None:
    tally = Tally()
    commands = _commands(ORDER, 123)
    sent = [_sent_line(tally, command).plain for command in commands]
    shipment = commands[1]
    succeeded = CommandSucceeded(
        command_id=uuid.UUID(str(shipment["command_id"])),
        command_type="AddShipment",
        account=ACCOUNT,
        checkout_form_id=ORDER,
        occurred_at=AT,
        shipment_id="b9c2d8a0",
    )

    row = _result_line(tally, result_message(succeeded), AT_NOON_MS)

    assert re.fullmatch(
        r"\d\d:\d\d:\d\d  command sent\s+29ab6d20-2e47\s+AddShipment INPOST DEMO0000123", sent[1]
    )
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d  CommandSucceeded\s+29ab6d20-2e47\s+AddShipment INPOST DEMO0000123",
        row.plain,
    )
    assert "commands sent 3 | results 1 ok, 0 failed" in tally.line()
    assert header_labels(tally) == [label for label, _ in tally.figures()]


def test_a_rejected_command_shows_the_reason_and_code_but_not_allegros_message() -> None:
    tally = Tally()
    command = _commands(ORDER, 5)[2]
    _sent_line(tally, command)
    failed = CommandFailed(
        command_id=uuid.UUID(str(command["command_id"])),
        command_type="SetFulfillmentStatus",
        account=ACCOUNT,
        checkout_form_id=ORDER,
        occurred_at=AT,
        reason=FailureReason.REJECTED,
        code="VALIDATION_ERROR",
        message="Order of jan_kowalski, ul. Przykładowa 12/3, cannot be sent",
    )

    row = _result_line(tally, result_message(failed), AT_NOON_MS)

    assert re.fullmatch(
        r"\d\d:\d\d:\d\d  CommandFailed\s+29ab6d20-2e47\s+"
        r"SetFulfillmentStatus SENT: rejected \(VALIDATION_ERROR\)",
        row.plain,
    )
    assert not [value for value in BUYER_DATA if value in row.plain]
    assert "results 0 ok, 1 failed" in tally.line()


def test_a_result_of_a_command_the_demo_did_not_send_shows_its_type_and_conflict() -> None:
    tally = Tally()
    failed = CommandFailed(
        command_id=uuid.uuid4(),
        command_type="SetFulfillmentStatus",
        account=ACCOUNT,
        checkout_form_id=ORDER,
        occurred_at=AT,
        reason=FailureReason.CONFLICT,
        message="the order changed",
        current_revision="7c0e55b1",
        current_status="PROCESSING",
    )

    row = _result_line(tally, result_message(failed), AT_NOON_MS)

    assert row.plain.endswith("SetFulfillmentStatus: conflict (now PROCESSING)")
    assert tally.results["CommandFailed"] == 1


def test_only_imported_orders_still_to_ship_are_picked_and_each_once() -> None:
    def imported(order_id: str, status: OrderStatus) -> dict[str, object]:
        event = dataclasses.replace(
            example_order_imported(), external_id=order_id, order_status=status
        )
        return decoded(encode_event(event).value)

    def changed(order_id: str, before: OrderStatus, after: OrderStatus) -> dict[str, object]:
        event = dataclasses.replace(
            example_order_status_changed(),
            external_id=order_id,
            previous_status=before,
            order_status=after,
        )
        return decoded(encode_event(event).value)

    tally = Tally()
    assert tally.next_order() is None  # nothing imported yet: no command
    for order_id, status in (
        ("shipped-1", OrderStatus.SHIPPED),
        ("new-1", OrderStatus.NEW),
        ("processing-1", OrderStatus.PROCESSING),
        ("cancelled-1", OrderStatus.CANCELLED),
        ("new-2", OrderStatus.NEW),
    ):
        _line(tally, False, imported(order_id, status), AT_NOON_MS)
    # Shipped by the seller meanwhile: nothing left for OpenOMS to do.
    _line(tally, False, changed("processing-1", OrderStatus.PROCESSING, OrderStatus.SHIPPED), 0)

    first = tally.next_order()
    # Our own PROCESSING coming back must not make the order a candidate again.
    _line(tally, False, changed("new-1", OrderStatus.NEW, OrderStatus.PROCESSING), 0)
    picked = [first, tally.next_order(), tally.next_order()]

    assert picked == ["new-1", "new-2", None]


def header_labels(tally: Tally) -> list[str]:
    """The header's column labels, over its tables (two in a terminal, to fit 80 columns)."""
    return [
        str(column.header)
        for table in tally.table().renderables
        if isinstance(table, Table)
        for column in table.columns
    ]
