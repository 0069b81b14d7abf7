"""What changes after import reaches Kafka: the CLI as a process, the simulator over real HTTP,
the real broker. Expected values are read off the simulator's raw camelCase form."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.kafka_reader import ConsumedRecord, read_topic
from tests.support.process import FAILPOINT_CLI, KILLED
from tests.support.service import run_cli, run_once, service_env

pytestmark = pytest.mark.integration

IMPORTED = "openoms.order.imported.v1"
UPDATED = "openoms.order.updated.v1"


def of_type(records: list[ConsumedRecord], ce_type: str, key: str) -> list[ConsumedRecord]:
    return [r for r in records if r.header("ce_type") == ce_type and r.key == key.encode()]


async def test_buyer_changes_and_top_ups_are_published_once_each(kafka_topics, tmp_path):
    state = SimulatorState(SimulatorConfig(seed=1414))
    mine = state.place_order(payment="ONLINE", pickup_point=False, one_fulfillment=False)
    state.pay(mine)
    theirs = state.place_order(payment="ONLINE", one_fulfillment=True)
    state.pay(theirs)
    topic, servers = kafka_topics.topic_orders, kafka_topics.bootstrap_servers
    with SimulatorServer(state) as server:
        env = service_env(
            server.url, state.config, state.initial_refresh_token, kafka_topics, tmp_path / "s.db"
        )

        run_once(env)
        records = await read_topic(servers, topic, min_records=2)
        [imported] = of_type(records, IMPORTED, mine)
        [allegros] = of_type(records, IMPORTED, theirs)
        assert imported.json()["fulfillment_provider"] == "SELLER"
        assert allegros.json()["fulfillment_provider"] == "ALLEGRO"
        form = state.checkout_form(theirs)
        assert allegros.json()["fulfillment_provider"] == form["fulfillment"]["provider"]["id"]

        # The buyer moves: one OrderUpdated, re-sent byte for byte after a crash between the
        # broker's acknowledgement and the commit.
        state.buyer_change(mine, "address")
        crashed = run_cli(
            "run",
            "--once",
            env={**env, "OPENOMS_FAILPOINTS": "crash_after_publish"},
            module=FAILPOINT_CLI,
        )
        assert crashed.returncode == KILLED, crashed.stderr[-2000:]
        run_once(env)
        records = await read_topic(servers, topic, min_records=4)
        first, replayed = of_type(records, UPDATED, mine)
        assert first.value == replayed.value
        assert first.header("ce_id") == replayed.header("ce_id")
        update = first.json()
        assert update["changed"] == ["shipping_address"]
        address = state.checkout_form(mine)["delivery"]["address"]
        assert update["shipping_address"]["street"] == address["street"]
        assert update["shipping_address"]["city"] == address["city"]
        assert update["shipping_address"]["postal_code"] == address["zipCode"]
        assert update["revision"] == state.checkout_form(mine)["revision"]

        # A new revision that changes nothing we publish: nothing.
        state.buyer_change(mine, "resave")
        assert run_once(env)["published"] == 0

        # A top-up: one OrderUpdated with the new total and the surcharge.
        surcharge_id = state.add_surcharge(mine, "12.50")
        run_once(env)
        records = await read_topic(servers, topic, min_records=5)
        *_, topped = of_type(records, UPDATED, mine)
        top_up = topped.json()
        form = state.checkout_form(mine)
        assert top_up["changed"] == ["surcharges", "total_to_pay"]
        assert Decimal(top_up["total_to_pay"]) == Decimal(form["summary"]["totalToPay"]["amount"])
        [surcharge] = top_up["surcharges"]
        assert surcharge["id"] == surcharge_id
        assert Decimal(surcharge["amount"]) == Decimal("12.50")
        assert (
            len(of_type(records, UPDATED, mine)) == 3
        )  # two for the move (one replay), one top-up
        assert run_once(env)["published"] == 0
