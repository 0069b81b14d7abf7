"""Offers end to end: the service as a process (`run`), the simulator over real HTTP, the real
broker. OpenOMS's stock and price commands reach Allegro's offers, and Allegro's offer changes
come back as `OfferChanged`. Expected values come from the commands sent and the simulator."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import OfferSpec, SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.commands import Results, results_once_all_answered, send_records
from tests.support.kafka_reader import read_topic
from tests.support.offers import (
    OFFER_CHANGED,
    offer_now,
    offers_once_published,
    send_offer_commands,
    set_price,
    set_stock,
    stock_of,
)
from tests.support.process import ServiceProcess
from tests.support.service import service_env

pytestmark = pytest.mark.integration


def simulator() -> SimulatorState:
    state = SimulatorState(SimulatorConfig(seed=1616, offer_command_delay_seconds=0.2))
    state.add_offers(
        [
            OfferSpec(id="10000000001", sku="MUG-1", stock=5, price=Decimal("20.00")),
            OfferSpec(id="10000000002", sku="MUG-1", stock=5, price=Decimal("20.00")),
            OfferSpec(id="10000000003", sku="BOWL-2", stock=8, price=Decimal("35.00")),
            OfferSpec(id="10000000004", sku="PLATE-3", stock=2, price=Decimal("15.00")),
        ]
    )
    return state


async def test_stock_0_ends_the_offers_and_stock_back_reactivates_them(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    state = simulator()
    servers = kafka_topics.bootstrap_servers
    with SimulatorServer(state) as server:
        env = service_env(
            server.url,
            state.config,
            state.initial_refresh_token,
            kafka_topics,
            tmp_path / "s.db",
            POLL_INTERVAL_SECONDS="0.5",
            OFFER_EVENTS_POLL_SECONDS="0.5",
        )
        with ServiceProcess(env, "run") as service:
            first = [set_stock("MUG-1", 0), set_stock("BOWL-2", 4), set_price("PLATE-3", "17.50")]
            await send_offer_commands(servers, kafka_topics.topic_offer_commands, first)
            results = await results_once_all_answered(
                servers, kafka_topics.topic_command_results, first, within=60
            )
            assert [results.outcome(c) for c in first] == [("CommandSucceeded", None)] * 3
            assert stock_of(state, "10000000001") == (5, "ENDED")
            assert stock_of(state, "10000000002") == (5, "ENDED")
            assert stock_of(state, "10000000003") == (4, "ACTIVE")

            second = [set_stock("MUG-1", 9), set_stock("NO-SUCH-SKU", 1)]
            await send_offer_commands(servers, kafka_topics.topic_offer_commands, second)
            results = await results_once_all_answered(
                servers, kafka_topics.topic_command_results, first + second, within=60
            )
            assert results.outcome(second[0]) == ("CommandSucceeded", None)
            assert results.outcome(second[1]) == ("CommandFailed", "rejected")
            assert results.first(second[1])["code"] == "UNKNOWN_SKU"
            assert results.first(second[0])["sku"] == "MUG-1"
            assert results.first(second[0])["checkout_form_id"] is None
            assert stock_of(state, "10000000001") == (9, "ACTIVE")
            assert stock_of(state, "10000000002") == (9, "ACTIVE")
            # Its offer events path publishes our writes on its own schedule: waited for.
            now = {i: offer_now(state, i) for i in ("10000000001", "10000000003", "10000000004")}
            await offers_once_published(servers, kafka_topics.topic_offers, now, 60)
            service.terminate()
            assert service.exits_within(30), service.stderr_lines()[-20:]

    # Our own writes come back as offer events, published as the offers are now.
    offers = await read_topic(servers, kafka_topics.topic_offers, min_records=1, within=10)
    changed = [r.json() for r in offers if r.header("ce_type") == OFFER_CHANGED]
    last = {c["offer_id"]: c for c in changed}
    assert last["10000000003"]["stock_available"] == 4
    assert last["10000000004"]["prices"][0] == {
        "marketplace": "allegro-pl",
        "amount": "17.50",
        "currency": "PLN",
    }
    assert (last["10000000001"]["publication_status"], last["10000000001"]["stock_available"]) == (
        "ACTIVE",
        9,
    )
    assert Results(offers).by_command == {}


async def test_hostile_offer_commands_are_answered_or_dead_lettered_and_the_sku_moves_on(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    state = simulator()
    servers = kafka_topics.bootstrap_servers
    not_json = b'{"command_id": "cut short'
    invalid = set_price("BOWL-2", "-3.00")  # fits JSON, breaks the schema: no request made
    foreign = set_stock("BOWL-2", 1, account="another-shop")  # not this service's
    after = set_stock("BOWL-2", 6)
    key = b"BOWL-2"
    # All on one key (one partition, in this order): each must be dealt with before the next.
    records = [
        (key, not_json),
        (key, json.dumps(invalid).encode()),
        (key, json.dumps(foreign).encode()),
        (key, json.dumps(after).encode()),
    ]
    with SimulatorServer(state) as server:
        env = service_env(
            server.url,
            state.config,
            state.initial_refresh_token,
            kafka_topics,
            tmp_path / "s.db",
            POLL_INTERVAL_SECONDS="0.5",
            OFFER_EVENTS_POLL_SECONDS="0.5",
        )
        await send_records(servers, kafka_topics.topic_offer_commands, records)
        with ServiceProcess(env, "run") as service:
            results = await results_once_all_answered(
                servers, kafka_topics.topic_command_results, [invalid, after], within=60
            )
            dead = await read_topic(servers, kafka_topics.topic_dlq, min_records=1, within=30)
            service.terminate()
            assert service.wait_exit(within=30) == 0, service.stderr_tail()
        sent = await read_topic(servers, kafka_topics.topic_offer_commands, min_records=4)
        results = Results(await read_topic(servers, kafka_topics.topic_command_results))

    assert results.outcome(invalid) == ("CommandFailed", "invalid")
    assert results.first(invalid)["sku"] == "BOWL-2"
    assert foreign["command_id"] not in results
    assert results.outcome(after) == ("CommandSucceeded", None)
    assert set(results.by_command) == {invalid["command_id"], after["command_id"]}
    assert results.resent() == 0
    assert stock_of(state, "10000000003") == (6, "ACTIVE")
    # Only the valid command reached Allegro: the invalid price, the other account's stock
    # and the record that is no command cost no batch command.
    assert [p["kind"] for p in state.offer_command_puts()] == ["quantity"]
    # The record that is no command: on the dead-letter topic as it came, naming where it was.
    where = next(r for r in sent if r.value == not_json)
    letters = [r.json() for r in dead]
    assert [(letter["raw_payload"].encode(), letter["checkout_form_id"]) for letter in letters] == [
        (not_json, f"offer-command-{where.partition}-{where.offset}")
    ]
