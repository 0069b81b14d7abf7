"""Shared pieces of the command-path tests: OpenOMS commands as the sender writes them, their
results as the service answers them, and a CLI whose failpoints fire on results alone.

`python -m tests.support.commands run` is `openoms-allegro run` with `OPENOMS_FAILPOINTS`
(the syntax of tests/support/failpoints.py) applied only to sends that carry a command result:
`crash_before_publish` then kills the process after the command's effect on Allegro and before
its result, `crash_after_publish` after the broker acknowledged the result and before the
offset commit. The import's own sends pass untouched, so every failpoint kill lands in the
command path's crash windows.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer

from sandbox.allegro import SimulatorState
from tests.support.kafka_reader import ConsumedRecord, read_topic

ACCOUNT = "e2e"  # what tests.support.service.service_env configures
RESULT_TYPE = "openoms.allegro.command_result.v1"
# A fixed `ce_time` on every command: a result carries its command's time, so a re-sent
# result is byte-identical only if the service takes the time from the command.
COMMAND_TIME = b"2026-03-14T12:00:00Z"

Command = dict[str, Any]


def paid_orders(state: SimulatorState, count: int) -> list[str]:
    """`count` paid online orders (READY_FOR_PROCESSING, fulfillment NEW)."""
    orders = []
    for _ in range(count):
        order_id = state.place_order(payment="ONLINE", one_fulfillment=False)
        state.pay(order_id)
        orders.append(order_id)
    return orders


def set_status(order_id: str, status: str, **extra: object) -> Command:
    return {
        "command_id": str(uuid.uuid4()),
        "command_type": "SetFulfillmentStatus",
        "account": ACCOUNT,
        "checkout_form_id": order_id,
        "status": status,
        **extra,
    }


def add_shipment(order_id: str, waybill: str, carrier_id: str = "INPOST") -> Command:
    return {
        "command_id": str(uuid.uuid4()),
        "command_type": "AddShipment",
        "account": ACCOUNT,
        "checkout_form_id": order_id,
        "carrier_id": carrier_id,
        "waybill": waybill,
    }


async def send_records(bootstrap: str, topic: str, records: Iterable[tuple[bytes, bytes]]) -> None:
    """(key, value) records produced in order, each acknowledged before the next."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key, headers=[("ce_time", COMMAND_TIME)])
    finally:
        await producer.stop()


async def send_commands(bootstrap: str, topic: str, commands: Iterable[Command]) -> None:
    """Commands keyed by their order, as OpenOMS sends them (one order, one partition)."""
    await send_records(
        bootstrap,
        topic,
        ((str(c["checkout_form_id"]).encode(), json.dumps(c).encode()) for c in commands),
    )


@dataclass(slots=True)
class Results:
    """The command-results topic as read: every record, by command id."""

    records: list[ConsumedRecord]
    by_command: dict[str, list[ConsumedRecord]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for record in self.records:
            if record.header("ce_type") == RESULT_TYPE:
                self.by_command.setdefault(str(record.json()["command_id"]), []).append(record)

    def first(self, command: Command) -> dict[str, Any]:
        answer: dict[str, Any] = self.by_command[str(command["command_id"])][0].json()
        return answer

    def outcome(self, command: Command) -> tuple[str, str | None]:
        answer = self.first(command)
        return answer["result_type"], answer.get("reason")

    def missing(self, commands: Iterable[Command]) -> list[str]:
        return [str(c["command_id"]) for c in commands if str(c["command_id"]) not in self]

    def __contains__(self, command_id: object) -> bool:
        return command_id in self.by_command

    def resent(self) -> int:
        """Results sent more than once (a replay, or a command delivered twice)."""
        return sum(len(records) - 1 for records in self.by_command.values())

    def differing(self) -> list[str]:
        """Problems with re-sent results: a command whose results are not all the same
        bytes under the same id (`ce_id`), or two results of one command with two ids."""
        problems = []
        for command_id, records in self.by_command.items():
            ids = {record.header("ce_id") for record in records}
            values = {record.value for record in records}
            keys = {record.key for record in records}
            if len(ids) != 1 or len(values) != 1 or len(keys) != 1:
                problems.append(
                    f"{command_id}: {len(records)} results, {len(ids)} ids, "
                    f"{len(values)} values, {len(keys)} keys"
                )
        return problems


def order_problems(results: Results, commands: Sequence[Command]) -> list[str]:
    """One order's commands are answered in the order they were sent: its results share a
    partition (key = order id), where the first result of each command follows the last."""
    sent: dict[str, list[str]] = {}
    for command in commands:
        ids = sent.setdefault(command["checkout_form_id"], [])
        if command["command_id"] not in ids:
            ids.append(command["command_id"])
    answered: dict[str, list[str]] = {}
    for record in results.records:
        if record.header("ce_type") != RESULT_TYPE:
            continue
        answer = record.json()
        ids = answered.setdefault(str(answer["checkout_form_id"]), [])
        if answer["command_id"] not in ids:
            ids.append(answer["command_id"])
    return [
        f"{order_id}: answered {answered.get(order_id)}, sent {ids}"
        for order_id, ids in sent.items()
        if answered.get(order_id) != ids
    ]


def waybills(state: SimulatorState, order_id: str) -> list[str]:
    """The waybills of the order's shipments on the simulator, in the order they were made."""
    return [str(shipment["waybill"]) for shipment in state.shipments(order_id)]


def shipment_problems(state: SimulatorState, commands: Sequence[Command]) -> list[str]:
    """Every AddShipment command (distinct command ids) must be exactly one shipment on the
    simulator, and no shipment may exist that no command asked for."""
    wanted: dict[str, list[str]] = {}
    seen: set[str] = set()
    for command in commands:
        if command["command_type"] == "AddShipment" and command["command_id"] not in seen:
            seen.add(command["command_id"])
            wanted.setdefault(command["checkout_form_id"], []).append(command["waybill"])
    problems = []
    for order_id in {c["checkout_form_id"] for c in commands}:
        held = sorted(waybills(state, order_id))
        if held != sorted(wanted.get(order_id, [])):
            problems.append(f"{order_id}: shipments {held}, commands {wanted.get(order_id)}")
    return problems


def status_problems(state: SimulatorState, commands: Sequence[Command]) -> list[str]:
    """Each order shows the status of its last SetFulfillmentStatus command."""
    last: dict[str, str] = {}
    for command in commands:
        if command["command_type"] == "SetFulfillmentStatus":
            last[command["checkout_form_id"]] = command["status"]
    problems = []
    for order_id, status in last.items():
        actual = state.checkout_form(order_id)["fulfillment"]["status"]
        if actual != status:
            problems.append(f"{order_id}: {actual}, the last command said {status}")
    return problems


async def results_once_all_answered(
    bootstrap: str, topic: str, commands: list[Command], within: float
) -> Results:
    """The results topic once every command has a result (bounded by `within`)."""
    deadline = time.monotonic() + within
    while True:
        results = Results(await read_topic(bootstrap, topic, within=30))
        missing = results.missing(commands)
        if not missing:
            return results
        assert time.monotonic() < deadline, (
            f"{len(missing)} command(s) without a result after {within} s: {missing[:5]}"
        )
        await asyncio.sleep(0.5)
