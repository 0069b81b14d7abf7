"""Offers end to end: the service as a process (`run`), the simulator over real HTTP, the real
broker. OpenOMS's stock and price commands reach Allegro's offers, and Allegro's offer changes
come back as `OfferChanged`. Expected values come from the commands sent and the simulator."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import OfferSpec, SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.commands import Results, results_once_all_answered
from tests.support.kafka_reader import read_topic
from tests.support.offers import (
    OFFER_CHANGED,
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
