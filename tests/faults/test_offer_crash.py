"""The inventory path under crashes: `openoms-allegro run` as a process, the simulator over real
HTTP with 1 500 offers over 600 SKUs, the real broker.

A burst of `SetStock` commands (about one in eight sets stock 0, which ends the SKU's offers;
a later level re-activates them), produced a chunk before each run, while the service is
SIGKILLed again and again: by failpoints on the send of a round's results (before the send:
the batch commands were sent, the round is staged; after the broker's ack: the round is not
marked done, the results are sent again), and by the test at random moments (during the
start-up, while a staged round is finished; just after a round's first batch command reached
Allegro). Then a clean run drains the rest.

Still: each SKU's offers hold the SKU's last value (stock 0: ENDED), no batch command id
reached Allegro with two contents, every command has a result and a command's results are
byte-identical. Expected values come from the commands the test sent and the simulator.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.faults.harness import (
    GENEROUS_SIMULATOR_LIMIT,
    CommandCrashPlan,
    Kills,
    command_crash_run,
    elapsed_since,
    env_for,
)
from tests.support.commands import Command, Results, results_once_all_answered
from tests.support.kafka_reader import read_topic
from tests.support.offers import send_offer_commands, set_stock, skus_of, stock_of
from tests.support.process import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 1616
OFFERS = 1_500
SKUS = 600
CHUNK = 200  # commands produced before each run: every run finds a round to apply
# Few distinct levels: one quantity batch command per level and round (docs/offers.md), so a
# round is a handful of batch commands over hundreds of offers.
LEVELS = (0, 0, 3, 5, 8, 13, 21, 34)
# Runs take turns: the failpoint before the results' send (after the batch commands: the
# restart must finish the staged round without sending anything new), a SIGKILL by the test
# at a random moment of the start-up, the failpoint after the results' ack (before the round
# is marked done: the results are sent again, byte for byte), a SIGKILL by the test just
# after a batch command of the run reached Allegro (the round half sent).
ROTATION = ("crash_before_publish", "start-up", "crash_after_publish", "applying")
# One send holds a whole round's results: the failpoint fires on the run's first one.
PROBABILITY = 1.0
MIN_KILLS = {"crash_before_publish": 3, "crash_after_publish": 3, "test": 6}
MIN_TOTAL_KILLS = 12
# A member SIGKILLed holds its partitions until its session (6 s) times out.
MAX_RUN = 40.0
START_UP_KILL_AFTER = (0.3, 4.0)  # from the spawn
APPLYING_KILL_AFTER = (0.0, 0.5)  # from the run's first batch command PUT
DEADLINE = 360.0
RESULTS_WITHIN = 120.0


def stock_burst(skus: list[str], count: int, rng: random.Random) -> list[Command]:
    return [set_stock(rng.choice(skus), rng.choice(LEVELS)) for _ in range(count)]


def crash_plan(state: SimulatorState) -> CommandCrashPlan:
    """`applying`: a batch command reached Allegro since the run began."""
    puts_before = len(state.offer_command_puts())
    return CommandCrashPlan(
        probability=PROBABILITY,
        start_up_after=START_UP_KILL_AFTER,
        applying_after=APPLYING_KILL_AFTER,
        applying=lambda service: len(state.offer_command_puts()) > puts_before,
        applying_what="a batch command PUT",
        max_run=MAX_RUN,
        applying_poll=0.01,
    )


def last_values(commands: list[Command]) -> dict[str, int]:
    """SKU -> the value of its last command (one SKU's commands are applied in order)."""
    return {c["sku"]: c["available"] for c in commands}


def stock_problems(
    state: SimulatorState, skus: dict[str, list[str]], commands: list[Command]
) -> list[str]:
    """Offers whose (stock, status) is not their SKU's last value: stock 0 leaves them ENDED
    (with the last stock Allegro applied), any other level ACTIVE with that stock."""
    problems = []
    for sku, value in last_values(commands).items():
        for offer_id in skus[sku]:
            stock, status = stock_of(state, offer_id)
            good = status == "ENDED" if value == 0 else (stock, status) == (value, "ACTIVE")
            if not good:
                problems.append(f"{sku}/{offer_id}: {stock} {status}, last value {value}")
    return problems


def reused_ids(state: SimulatorState) -> list[str]:
    """Batch command ids that reached Allegro with more than one content."""
    digests: dict[tuple[str, str], set[str]] = {}
    for put in state.offer_command_puts():
        digests.setdefault((put["kind"], put["commandId"]), set()).add(put["digest"])
    return [f"{kind} {cid}: {len(d)} contents" for (kind, cid), d in digests.items() if len(d) > 1]


@pytest.mark.extended  # minutes long: `make test-extended`
@pytest.mark.timeout(DEADLINE + RESULTS_WITHIN + 60)
async def test_sigkills_during_a_stock_burst_lose_and_double_nothing(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    state = SimulatorState(
        SimulatorConfig(seed=SEED, rate_limit_per_minute=GENEROUS_SIMULATOR_LIMIT)
    )
    state.seed_offers(OFFERS, SKUS, seed=SEED)
    skus = skus_of(state)
    untouched = {o: stock_of(state, o) for offers in skus.values() for o in offers}
    bootstrap = kafka_topics.bootstrap_servers
    kills = Kills(MIN_TOTAL_KILLS, MIN_KILLS)
    commands: list[Command] = []
    with SimulatorServer(state) as server:
        env = env_for(
            server,
            state,
            kafka_topics,
            tmp_path / "state.db",
            POLL_INTERVAL_SECONDS="0.5",
            OFFER_EVENTS_POLL_SECONDS="0.5",
            ALLEGRO_RATE_LIMIT_PER_MINUTE="9000",
            ALLEGRO_RATE_LIMIT_BURST="100",
        )
        while not kills.enough():
            assert time.monotonic() - started < DEADLINE, (
                f"too slow: {kills.describe()} after {kills.runs} runs"
            )
            chunk = stock_burst(sorted(skus), CHUNK, rng)
            await send_offer_commands(bootstrap, kafka_topics.topic_offer_commands, chunk)
            commands += chunk
            command_crash_run(
                env, rng, ROTATION[kills.runs % len(ROTATION)], kills, crash_plan(state)
            )
        # A clean run, left running until every command has its result.
        with ServiceProcess(env, "run") as service:
            await results_once_all_answered(
                bootstrap, kafka_topics.topic_command_results, commands, RESULTS_WITHIN
            )
            service.terminate()
            assert service.wait_exit(within=30) == 0, service.stderr_tail()
        results = Results(await read_topic(bootstrap, kafka_topics.topic_command_results))
        puts = state.offer_command_puts()

    outcomes = Counter(results.outcome(c) for c in commands)
    statuses = Counter(put["status"] for put in puts)
    kinds = Counter(put["kind"] for put in puts if put["status"] == 201)
    offers_sent = sum(put["offers"] for put in puts if put["status"] == 201)
    last = last_values(commands)
    at_zero = sum(len(skus[sku]) for sku, value in last.items() if value == 0)
    ended = sum(1 for offer_id in untouched if stock_of(state, offer_id)[1] == "ENDED")
    print(
        f"\noffer crash test: {len(commands)} SetStock over {len(last)} of {SKUS} SKUs "
        f"({OFFERS} offers); {kills.runs} runs, {kills.total} SIGKILLs ({kills.describe()}: "
        f"{''.join(kills.log)}); {len(results.records)} results ({results.resent()} re-sent); "
        f"{len(puts)} batch command PUTs (answers {dict(statuses)}; accepted {dict(kinds)}, "
        f"{offers_sent} offer changes); {ended} offers ENDED ({at_zero} last set to 0); "
        f"outcomes {dict(outcomes)}; {elapsed_since(started)} s"
    )
    assert kills.enough(), kills.describe()
    assert results.missing(commands) == []
    assert results.differing() == []
    assert outcomes == {("CommandSucceeded", None): len(commands)}
    assert reused_ids(state) == []
    assert stock_problems(state, skus, commands) == []
    never_commanded = [o for sku in set(skus) - set(last) for o in skus[sku]]
    assert [o for o in never_commanded if stock_of(state, o) != untouched[o]] == []
    assert at_zero > 0, "no SKU's last value was 0: the END path went untested"
    # Not vacuous: a staged round was finished after a crash (its batch commands sent again,
    # Allegro answering 409) and results were sent again.
    assert statuses[409] > 0, "no batch command was sent again: no crash hit a staged round"
    assert results.resent() > 0, "no result was re-sent: the replay window was never hit"
