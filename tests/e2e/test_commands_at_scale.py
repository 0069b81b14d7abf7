"""OpenOMS's commands at scale and their permanent failures, end to end: the service as a
process (`run`), the simulator over real HTTP, the real broker. Expected values come from
the commands the test sent and the simulator's state."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.commands import (
    Command,
    Results,
    add_shipment,
    order_problems,
    paid_orders,
    results_once_all_answered,
    send_commands,
    send_records,
    set_status,
    shipment_problems,
    status_problems,
    waybills,
)
from tests.support.kafka_reader import read_topic
from tests.support.process import ServiceProcess
from tests.support.service import service_env

pytestmark = pytest.mark.integration

SEED = 15200
ORDERS = 200
RESULTS_WITHIN = 120.0
DEAD_LETTERED = "openoms.order.dead_lettered.v1"


def env_for(state: SimulatorState, url: str, kafka: KafkaConfig, db: Path) -> dict[str, str]:
    return service_env(
        url,
        state.config,
        state.initial_refresh_token,
        kafka,
        db,
        POLL_INTERVAL_SECONDS="0.5",
    )


async def test_commands_for_200_orders_each_answered_once(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    started = time.monotonic()
    state = SimulatorState(SimulatorConfig(seed=SEED))
    orders = paid_orders(state, ORDERS)
    applied: list[Command] = []  # commands that must take effect
    conflicts: dict[str, Command] = {}  # order id -> its command with a stale revision
    for n, order_id in enumerate(orders):
        kind = n % 5
        if kind == 0:
            applied += [
                set_status(order_id, "PROCESSING"),
                add_shipment(order_id, f"SCALE{n:05d}A"),
                set_status(order_id, "SENT"),
            ]
        elif kind == 1:  # two parcels, two carriers
            applied += [
                add_shipment(order_id, f"SCALE{n:05d}A", "DPD"),
                add_shipment(order_id, f"SCALE{n:05d}B", "INPOST"),
                set_status(order_id, "READY_FOR_SHIPMENT"),
            ]
        elif kind == 2:  # OpenOMS's lock, and the order did not change meanwhile
            revision = state.revision_of(order_id)
            applied.append(set_status(order_id, "PROCESSING", expected_revision=revision))
        elif kind == 3:
            applied += [add_shipment(order_id, f"SCALE{n:05d}A"), set_status(order_id, "SENT")]
        else:  # OpenOMS decided on a revision the seller has since moved in Sales Center
            stale = state.revision_of(order_id)
            state.set_fulfillment(order_id, "SUSPENDED")
            conflicts[order_id] = set_status(order_id, "SENT", expected_revision=stale)
    commands = applied + list(conflicts.values())
    before = {order_id: state.checkout_form(order_id) for order_id in conflicts}
    bootstrap = kafka_topics.bootstrap_servers
    with SimulatorServer(state) as server:
        env = env_for(state, server.url, kafka_topics, tmp_path / "state.db")
        await send_commands(bootstrap, kafka_topics.topic_commands, commands)
        with ServiceProcess(env, "run") as service:
            results = await results_once_all_answered(
                bootstrap, kafka_topics.topic_command_results, commands, RESULTS_WITHIN
            )
            service.terminate()
            assert service.wait_exit(within=30) == 0, service.stderr_tail()
        results = Results(await read_topic(bootstrap, kafka_topics.topic_command_results))

    outcomes = Counter(results.outcome(c) for c in commands)
    print(
        f"\nat scale: {len(commands)} commands for {ORDERS} orders "
        f"({sum(c['command_type'] == 'AddShipment' for c in commands)} AddShipment), "
        f"{len(results.records)} results, outcomes {dict(outcomes)}; "
        f"{round(time.monotonic() - started, 1)} s"
    )
    assert {cid: len(r) for cid, r in results.by_command.items()} == {
        c["command_id"]: 1 for c in commands
    }
    assert {results.outcome(c) for c in applied} == {("CommandSucceeded", None)}
    assert shipment_problems(state, commands) == []
    assert status_problems(state, applied) == []
    assert order_problems(results, commands) == []
    for order_id, command in conflicts.items():
        answer = results.first(command)
        assert (answer["result_type"], answer["reason"]) == ("CommandFailed", "conflict")
        assert answer["current_status"] == "SUSPENDED"
        assert answer["current_revision"] == before[order_id]["revision"]
        # Left as it was: no write went through.
        assert state.checkout_form(order_id) == before[order_id]
        assert waybills(state, order_id) == []


async def test_a_refused_command_answers_and_its_order_moves_on_bad_json_goes_to_the_dlq(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    state = SimulatorState(SimulatorConfig(seed=SEED + 1))
    order_id, other_id = paid_orders(state, 2)
    refused = add_shipment(order_id, "NOT A WAYBILL!")  # fits the schema; Allegro refuses it
    after = [add_shipment(order_id, "GOOD0000001"), set_status(order_id, "SENT")]
    elsewhere = set_status(other_id, "PROCESSING")
    not_json = b'{"command_id": "cut short'
    not_an_object = b'["AddShipment"]'
    key = order_id.encode()

    def record(command: Command) -> tuple[bytes, bytes]:
        return key, json.dumps(command).encode()

    # All on the order's key (one partition): each must be answered before the next is read.
    records = [
        record(refused),
        (key, not_json),
        record(after[0]),
        (key, not_an_object),
        record(after[1]),
        (other_id.encode(), json.dumps(elsewhere).encode()),
    ]
    commands = [refused, *after, elsewhere]
    bootstrap = kafka_topics.bootstrap_servers
    with SimulatorServer(state) as server:
        env = env_for(state, server.url, kafka_topics, tmp_path / "state.db")
        await send_records(bootstrap, kafka_topics.topic_commands, records)
        with ServiceProcess(env, "run") as service:
            results = await results_once_all_answered(
                bootstrap, kafka_topics.topic_command_results, commands, 60
            )
            dead = await read_topic(bootstrap, kafka_topics.topic_dlq, min_records=2, within=30)
            service.terminate()
            assert service.wait_exit(within=30) == 0, service.stderr_tail()
        sent = await read_topic(bootstrap, kafka_topics.topic_commands, min_records=len(records))

    answer = results.first(refused)
    assert (answer["result_type"], answer["reason"]) == ("CommandFailed", "rejected")
    assert answer["code"]  # Allegro's error code
    assert [results.outcome(c) for c in [*after, elsewhere]] == [("CommandSucceeded", None)] * 3
    assert order_problems(results, commands) == []
    assert waybills(state, order_id) == ["GOOD0000001"]
    assert state.checkout_form(order_id)["fulfillment"]["status"] == "SENT"
    # The records that are no commands: on the dead-letter topic as they came, naming where
    # they were on the command topic.
    where = {r.value: f"command-{r.partition}-{r.offset}" for r in sent}
    letters = [r.json() for r in dead if r.header("ce_type") == DEAD_LETTERED]
    assert sorted(
        (letter["raw_payload"].encode(), letter["checkout_form_id"]) for letter in letters
    ) == sorted((raw, where[raw]) for raw in (not_json, not_an_object))
