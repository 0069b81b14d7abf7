"""OpenOMS's commands from Kafka applied to Allegro: the service as a process (`run`), the
simulator over real HTTP, the real broker. Expected values come from the simulator's state."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.kafka_reader import ConsumedRecord, read_topic
from tests.support.process import ServiceProcess
from tests.support.service import run_once, service_env

pytestmark = pytest.mark.integration

RESULT = "openoms.allegro.command_result.v1"


async def send_commands(bootstrap: str, topic: str, commands: list[dict[str, object]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for command in commands:
            await producer.send_and_wait(
                topic,
                json.dumps(command).encode(),
                key=str(command.get("checkout_form_id", "")).encode(),
                headers=[("ce_time", b"2026-03-14T12:00:00Z")],
            )
    finally:
        await producer.stop()


async def results_for(bootstrap: str, topic: str, count: int) -> list[ConsumedRecord]:
    return await read_topic(bootstrap, topic, min_records=count, within=60.0)


async def test_commands_set_statuses_and_add_each_shipment_once(kafka_topics, tmp_path):
    state = SimulatorState(SimulatorConfig(seed=1515))
    orders = []
    for _ in range(6):
        order_id = state.place_order(payment="ONLINE")
        state.pay(order_id)
        orders.append(order_id)
    servers = kafka_topics.bootstrap_servers
    with SimulatorServer(state) as server:
        env = service_env(
            server.url, state.config, state.initial_refresh_token, kafka_topics, tmp_path / "s.db"
        )
        run_once(env)  # imported first, as OpenOMS would have them
        stale = state.revision_of(orders[5])
        state.set_fulfillment(orders[5], "PROCESSING")  # changed in Sales Center meanwhile

        def status(order_id: str, target: str, **extra: object) -> dict[str, object]:
            return {
                "command_id": str(uuid.uuid4()),
                "command_type": "SetFulfillmentStatus",
                "account": "e2e",
                "checkout_form_id": order_id,
                "status": target,
                **extra,
            }

        def shipment(order_id: str, waybill: str) -> dict[str, object]:
            return {
                "command_id": str(uuid.uuid4()),
                "command_type": "AddShipment",
                "account": "e2e",
                "checkout_form_id": order_id,
                "carrier_id": "INPOST",
                "waybill": waybill,
            }

        twice = shipment(orders[1], "WB0000000002")
        commands = [
            status(orders[0], "PROCESSING"),
            shipment(orders[0], "WB0000000001"),
            status(orders[0], "SENT"),
            twice,
            twice,  # delivered twice: one shipment, identical results
            shipment(orders[2], "NOT A WAYBILL!"),  # Allegro refuses it: rejected
            status(orders[3], "READY_FOR_SHIPMENT", account="another-shop"),  # not ours
            status(orders[4], "RETURNED"),  # not settable: invalid
            status(orders[5], "SENT", expected_revision=stale),  # conflict
        ]
        await send_commands(servers, kafka_topics.topic_commands, commands)

        with ServiceProcess({**env, "POLL_INTERVAL_SECONDS": "0.5"}, "run") as service:
            records = await results_for(servers, kafka_topics.topic_command_results, 8)
            service.terminate()
            assert service.exits_within(30), service.stderr_lines()[-20:]
        run_once(env)  # the journal events our writes caused, published like any other
        published = await read_topic(servers, kafka_topics.topic_orders, min_records=7)

    results = [r.json() for r in records if r.header("ce_type") == RESULT]
    by_command: dict[str, list[dict[str, object]]] = {}
    for result in results:
        by_command.setdefault(str(result["command_id"]), []).append(result)
    outcome = {cid: (r[0]["result_type"], r[0]["reason"]) for cid, r in by_command.items()}
    assert outcome == {
        commands[0]["command_id"]: ("CommandSucceeded", None),
        commands[1]["command_id"]: ("CommandSucceeded", None),
        commands[2]["command_id"]: ("CommandSucceeded", None),
        twice["command_id"]: ("CommandSucceeded", None),
        commands[5]["command_id"]: ("CommandFailed", "rejected"),
        commands[7]["command_id"]: ("CommandFailed", "invalid"),
        commands[8]["command_id"]: ("CommandFailed", "conflict"),
    }
    twice_results = [r for r in records if r.json()["command_id"] == twice["command_id"]]
    assert len(twice_results) == 2
    assert twice_results[0].value == twice_results[1].value
    assert state.checkout_form(orders[0])["fulfillment"]["status"] == "SENT"
    assert [s["waybill"] for s in state.shipments(orders[0])] == ["WB0000000001"]
    assert [s["waybill"] for s in state.shipments(orders[1])] == ["WB0000000002"]
    assert state.shipments(orders[2]) == []
    assert state.checkout_form(orders[3])["fulfillment"]["status"] == "NEW"  # not ours
    assert state.checkout_form(orders[5])["fulfillment"]["status"] == "PROCESSING"
    # The effect comes back as an event: each status we set, published once.
    changes = [
        (r.json()["previous_fulfillment_status"], r.json()["fulfillment_status"])
        for r in published
        if r.header("ce_type") == "openoms.order.status_changed.v1" and r.key == orders[0].encode()
    ]
    # (the two writes may land in one poll: the form is read once, then only SENT shows)
    assert changes[0][0] == "NEW"
    assert [after for _, after in changes].count("SENT") == 1
    assert changes[-1][1] == "SENT"
    conflict = by_command[str(commands[8]["command_id"])][0]
    assert conflict["current_status"] == "PROCESSING"
    assert conflict["current_revision"] == state.revision_of(orders[5])
