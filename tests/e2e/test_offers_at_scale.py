"""Stock commands at scale, end to end (issue 16's first criterion): 5 000 `SetStock` over
1 500 offers and 600 SKUs cost Allegro a handful of batch commands. The service as a process
(`run`), the simulator over real HTTP, the real broker; expected values come from the
commands sent and the simulator."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.commands import Results, results_once_all_answered
from tests.support.kafka_reader import read_topic
from tests.support.offers import (
    Command,
    quantity_commands,
    send_offer_commands,
    set_stock,
    skus_of,
    stock_of,
)
from tests.support.process import ServiceProcess
from tests.support.service import service_env

pytestmark = pytest.mark.integration

SEED = 1616
OFFERS = 1500
SKUS = 600
COMMANDS = 5000
# Values on the way; each SKU ends on one of two levels. A FIXED batch command carries one
# value for all its offers (docs/offers.md), so the final state costs one quantity command
# per level (per 1 000 offers), however many commands came before it.
PASSING = (3, 9, 14, 27)
FINAL = (12, 40)
# Allegro received at most this many quantity commands per 1 000 offers changed.
PER_THOUSAND = 2


def stock_commands(skus: list[str]) -> tuple[list[Command], dict[str, int]]:
    """`COMMANDS` SetStock spread over `skus`, each SKU's in order, the last of each SKU on a
    level of FINAL; returns them in the order sent and each SKU's final value."""
    per_sku = [COMMANDS // len(skus) + (n < COMMANDS % len(skus)) for n in range(len(skus))]
    final = {sku: FINAL[n % len(FINAL)] for n, sku in enumerate(skus)}
    commands = []
    for step in range(max(per_sku)):
        for n, sku in enumerate(skus):
            if step >= per_sku[n]:
                continue
            last = step == per_sku[n] - 1
            value = final[sku] if last else PASSING[(n + step) % len(PASSING)]
            commands.append(set_stock(sku, value))
    return commands, final


async def test_5000_stock_commands_for_1500_offers_cost_two_quantity_commands_a_thousand(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    started = time.monotonic()
    state = SimulatorState(SimulatorConfig(seed=SEED, offer_command_delay_seconds=0.2))
    state.seed_offers(OFFERS, SKUS, seed=SEED)
    offers_of = skus_of(state)
    assert len(offers_of) == SKUS
    commands, final = stock_commands(sorted(offers_of))
    assert len(commands) == COMMANDS
    bootstrap = kafka_topics.bootstrap_servers
    with SimulatorServer(state) as server:
        env = service_env(
            server.url,
            state.config,
            state.initial_refresh_token,
            kafka_topics,
            tmp_path / "s.db",
            POLL_INTERVAL_SECONDS="0.5",
        )
        # All sent before the service starts, so that its rounds gather them.
        await send_offer_commands(bootstrap, kafka_topics.topic_offer_commands, commands)
        with ServiceProcess(env, "run") as service:
            await results_once_all_answered(
                bootstrap, kafka_topics.topic_command_results, commands, within=90
            )
            service.terminate()
            assert service.wait_exit(within=30) == 0, service.stderr_tail()
        results = Results(await read_topic(bootstrap, kafka_topics.topic_command_results))
        rounds = service.logs_with("offer round done")

    changed = [offer_id for ids in offers_of.values() for offer_id in ids]
    batch = quantity_commands(state)
    requests = state.stats()["requests"]
    by_path = Counter(f"{e.method} {e.path.rsplit('/', 1)[0]}" for e in state.request_log)
    print(
        f"\noffers at scale: {len(commands)} records, {len(rounds)} round(s) "
        f"{[(r.get('commands'), r.get('batch_commands')) for r in rounds]}, "
        f"{len(batch)} quantity command(s), {len(state.offer_command_puts())} command PUTs, "
        f"{requests} requests ({dict(by_path)}), {round(len(changed) / requests)} offers per "
        f"request, {round(len(changed) / max(len(batch), 1))} offers per quantity command; "
        f"{round(time.monotonic() - started, 1)} s"
    )
    assert results.missing(commands) == []
    assert results.differing() == []
    assert results.resent() == 0
    assert {cid: len(r) for cid, r in results.by_command.items()} == {
        c["command_id"]: 1 for c in commands
    }
    assert Counter(results.outcome(c) for c in commands) == {("CommandSucceeded", None): COMMANDS}
    wrong = [
        (offer_id, stock_of(state, offer_id), final[sku])
        for sku, ids in offers_of.items()
        for offer_id in ids
        if stock_of(state, offer_id) != (final[sku], "ACTIVE")
    ]
    assert wrong == []
    assert len(batch) <= PER_THOUSAND * len(changed) / 1000, (
        f"{len(batch)} quantity commands for {len(changed)} offers over {len(rounds)} round(s)"
    )
