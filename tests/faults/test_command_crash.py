"""The command path under crashes, duplicates and an Allegro outage: `openoms-allegro run` as
a process, the simulator over real HTTP, the real broker.

- SIGKILLed again and again while commands flow: some kills by failpoints on the result's send
  (after the effect on Allegro and before its result; after the result's ack and before the
  offset commit), the others by the test at random moments. Still one shipment per
  AddShipment, one result per command (re-sent ones byte-identical), nothing lost.
- The same command record delivered several times, also after a restart: one effect, the
  same result every time.
- Allegro answering 5xx for a while, while commands wait: nothing skipped, the backlog
  drains after recovery, and no 60-second window holds more requests than the budget while
  the import and the commands both want more.

Expected values come from the commands the test sent and the simulator's state.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer
from sandbox.allegro.gateway import is_rest
from tests.faults.harness import (
    GENEROUS_SIMULATOR_LIMIT,
    CommandCrashPlan,
    InstrumentedState,
    Kills,
    OrderStream,
    command_crash_run,
    elapsed_since,
    env_for,
    sliding_window_max,
)
from tests.support.commands import (
    Command,
    Results,
    add_shipment,
    order_problems,
    paid_orders,
    results_once_all_answered,
    send_commands,
    set_status,
    shipment_problems,
    status_problems,
    waybills,
)
from tests.support.kafka_reader import read_topic
from tests.support.process import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 1515
ORDERS = 100
COMMANDS = 300  # distinct command ids; duplicates come on top
DUPLICATE_SHARE = 0.1  # a command's record produced twice in a row (a producer's retry)
# Commands are produced a chunk before each run, so every run finds commands to apply and a
# failpoint has results to fire on.
CHUNK = 30
# Runs take turns: the failpoint before the result's send (after the effect: the re-delivery
# must find the shipment and not post it again), a SIGKILL by the test at a random moment of
# the start-up, the failpoint after the result's ack (before the commit: the result is
# re-sent, byte for byte), a SIGKILL by the test at a random moment while commands are applied.
ROTATION = ("crash_before_publish", "start-up", "crash_after_publish", "applying")
PROBABILITY = 0.15  # per result: a chunk of 30 fires with ~99 %
MIN_KILLS = {"crash_after_publish": 3, "crash_before_publish": 3, "test": 6}
MIN_TOTAL_KILLS = 12
# A service SIGKILLed while in the consumer group stays a member until its session times
# out: the next one gets the partitions about 20 s after its start.
MAX_RUN = 40.0
START_UP_KILL_AFTER = (0.3, 4.0)  # from the spawn, before the consumer joined its group
APPLYING_KILL_AFTER = (0.0, 0.4)  # from the run's first result, while its chunk is applied
DEADLINE = 420.0
RESULTS_WITHIN = 60.0
# A write whose answer is lost (a 500 after the effect): the shipment exists, the service
# does not know; the retry must find it.
LOST_WRITE_RATE = 0.03


def command_plan(orders: list[str], rng: random.Random) -> tuple[list[Command], list[Command]]:
    """(the distinct commands, the records to produce): about three commands per order,
    statuses and shipments mixed, the orders interleaved, each order's own commands in order,
    some records produced twice in a row."""
    scripts: dict[str, list[Command]] = {order_id: [] for order_id in orders}
    statuses = ("PROCESSING", "READY_FOR_SHIPMENT", "SENT", "SUSPENDED", "PICKED_UP")
    for n in range(COMMANDS):
        order_id = orders[n % len(orders)]
        if rng.random() < 0.5:
            command = add_shipment(order_id, f"CRASH{n:06d}", rng.choice(("INPOST", "DPD")))
        else:
            command = set_status(order_id, rng.choice(statuses))
        scripts[order_id].append(command)
    distinct: list[Command] = []
    records: list[Command] = []
    while any(scripts.values()):
        order_id = rng.choice([o for o, script in scripts.items() if script])
        command = scripts[order_id].pop(0)
        distinct.append(command)
        records.append(command)
        if rng.random() < DUPLICATE_SHARE:
            records.append(command)
    return distinct, records


PLAN = CommandCrashPlan(
    probability=PROBABILITY,
    start_up_after=START_UP_KILL_AFTER,
    applying_after=APPLYING_KILL_AFTER,
    applying=lambda service: service.count("command done") > 0,
    applying_what="a command done",
    max_run=MAX_RUN,
)


async def wait_for_result_count(bootstrap: str, topic: str, count: int, within: float) -> None:
    """Until the results topic holds `count` records (bounded by `within`)."""
    deadline = time.monotonic() + within
    while len(await read_topic(bootstrap, topic, within=30)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} results after {within} s"
        await asyncio.sleep(0.5)


@pytest.mark.extended  # minutes long: `make test-extended`
async def test_sigkills_while_commands_flow_lose_and_double_nothing(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    state = InstrumentedState(
        SimulatorConfig(seed=SEED, rate_limit_per_minute=GENEROUS_SIMULATOR_LIMIT)
    )
    orders = paid_orders(state, ORDERS)
    distinct, records = command_plan(orders, rng)
    state.faults.update({"lost_write_rate": LOST_WRITE_RATE})
    bootstrap = kafka_topics.bootstrap_servers
    kills = Kills(MIN_TOTAL_KILLS, MIN_KILLS)
    with SimulatorServer(state) as server:
        env = env_for(
            server,
            state,
            kafka_topics,
            tmp_path / "state.db",
            POLL_INTERVAL_SECONDS="0.5",
            ALLEGRO_RATE_LIMIT_PER_MINUTE="9000",
            ALLEGRO_RATE_LIMIT_BURST="100",
        )
        produced = 0
        while not (kills.enough() and produced == len(records)):
            assert time.monotonic() - started < DEADLINE, (
                f"too slow: {kills.describe()}, {produced} of {len(records)} records produced"
            )
            chunk = records[produced : produced + CHUNK]
            await send_commands(bootstrap, kafka_topics.topic_commands, chunk)
            produced += len(chunk)
            command_crash_run(env, rng, ROTATION[kills.runs % len(ROTATION)], kills, PLAN)
        # A clean run, left running until every command has its result.
        with ServiceProcess(env, "run") as service:
            await results_once_all_answered(
                bootstrap, kafka_topics.topic_command_results, distinct, RESULTS_WITHIN
            )
            service.terminate()
            assert service.wait_exit(within=30) == 0, service.stderr_tail()
        results = Results(await read_topic(bootstrap, kafka_topics.topic_command_results))
        posts = sum(state.shipment_post_counts().values())

    shipments = [c for c in distinct if c["command_type"] == "AddShipment"]
    outcomes = Counter(results.outcome(c) for c in distinct)
    print(
        f"\ncommand crash test: {len(distinct)} commands ({len(shipments)} AddShipment) in "
        f"{len(records)} records over {ORDERS} orders; {kills.runs} runs, {kills.total} "
        f"SIGKILLs ({kills.describe()}: {''.join(kills.log)}); {len(results.records)} results "
        f"({results.resent()} re-sent); {posts} shipment POSTs for {len(shipments)} shipments; "
        f"outcomes {dict(outcomes)}; {elapsed_since(started)} s"
    )
    assert kills.enough(), kills.describe()
    assert results.missing(distinct) == []
    assert results.differing() == []
    assert outcomes == {("CommandSucceeded", None): len(distinct)}
    assert shipment_problems(state, distinct) == []
    assert status_problems(state, records) == []
    for command in shipments:  # the result names the shipment Allegro holds for the command
        held = {s["waybill"]: s["id"] for s in state.shipments(command["checkout_form_id"])}
        assert results.first(command)["shipment_id"] == held[command["waybill"]]
    assert results.resent() > 0, "no result was re-sent: the replay window was never hit"


# ------------------------------------------------------------------------- duplicates


async def test_a_command_delivered_again_and_again_changes_nothing_more(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    """Each command's record produced three times (one of them after a restart, when the
    command's offset was long committed): one effect, the same result bytes every time."""
    started = time.monotonic()
    state = InstrumentedState(SimulatorConfig(seed=SEED + 1))
    orders = paid_orders(state, 6)
    bootstrap = kafka_topics.bootstrap_servers
    stale_ok = state.revision_of(orders[4])  # the revision OpenOMS decided on: current
    commands = [
        add_shipment(orders[0], "DUP0000001"),
        add_shipment(orders[1], "DUP0000002", "DPD"),
        set_status(orders[2], "SENT"),
        add_shipment(orders[3], "DUP0000003"),
        set_status(orders[3], "READY_FOR_SHIPMENT"),
        # With OpenOMS's lock: applied once; delivered again, the revision has moved (409),
        # and the order already shows the status: success again, not a conflict.
        set_status(orders[4], "PROCESSING", expected_revision=stale_ok),
        add_shipment(orders[5], "DUP0000004"),
    ]
    twice_in_a_row = [c for command in commands for c in (command, command)]
    with SimulatorServer(state) as server:
        env = env_for(server, state, kafka_topics, tmp_path / "state.db")
        await send_commands(bootstrap, kafka_topics.topic_commands, twice_in_a_row)
        with ServiceProcess(env, "run") as service:
            first = await results_once_all_answered(
                bootstrap, kafka_topics.topic_command_results, commands, RESULTS_WITHIN
            )
            service.terminate()
            assert service.wait_exit(within=30) == 0, service.stderr_tail()
        revisions = {order_id: state.revision_of(order_id) for order_id in orders}
        posts = state.shipment_post_counts()
        # After the restart: the same records again, long after their offsets were committed.
        await send_commands(bootstrap, kafka_topics.topic_commands, commands)
        with ServiceProcess(env, "run") as service:
            await wait_for_result_count(
                bootstrap, kafka_topics.topic_command_results, 3 * len(commands), RESULTS_WITHIN
            )
            service.terminate()
            assert service.wait_exit(within=30) == 0, service.stderr_tail()
        results = Results(await read_topic(bootstrap, kafka_topics.topic_command_results))

    print(
        f"\nduplicates: {len(commands)} commands, {len(results.records)} results "
        f"({len(first.records)} before the restart); {elapsed_since(started)} s"
    )
    assert {cid: len(r) for cid, r in results.by_command.items()} == {
        c["command_id"]: 3 for c in commands
    }
    assert results.differing() == []
    assert {results.outcome(c) for c in commands} == {("CommandSucceeded", None)}
    assert shipment_problems(state, commands) == []
    assert status_problems(state, commands) == []
    # The deliveries after the restart wrote nothing: no revision moved, no POST was made.
    assert {order_id: state.revision_of(order_id) for order_id in orders} == revisions
    assert state.shipment_post_counts() == posts
    assert all(waybills(state, c["checkout_form_id"]) == [c["waybill"]] for c in commands[:2])


# ------------------------------------------------------------------------- outage and budget

PER_MINUTE = 300  # the service's budget: less than the import and the commands ask for
SIMULATOR_PER_MINUTE = 3000  # above it: the simulator's 429 must not be what holds the client
OUTAGE_ORDERS = 50
# Longer than the transport's own retries of a read (6 attempts, backoff doubling from 1 s): the
# outage reaches the command loop, which must hold the command, not skip it.
OUTAGE_SECONDS = 30.0
BUDGET_DEADLINE = 180.0
WINDOW = 60.0


def outage(state: InstrumentedState, begun: threading.Event, over: threading.Event) -> None:
    """Allegro answers 5xx to every REST request for a while, then recovers.

    Not a hanging Allegro here: the request log stamps a request when it is answered, and a
    request held past the client's timeout is answered (and stamped) after the client's
    one second of window slack (adapters/allegro/rate_limit.py, WINDOW_SECONDS), so the log
    would no longer tell the client's departures apart."""
    begun.set()
    state.faults.update({"error_rate": 1.0})
    time.sleep(OUTAGE_SECONDS)  # the outage's length, not a wait for anything
    state.faults.update({"error_rate": 0.0})
    over.set()


@pytest.mark.extended  # minutes long: `make test-extended`
async def test_an_outage_holds_commands_and_the_budget_holds_for_both_paths(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    started = time.monotonic()
    rng = random.Random(SEED + 2)
    state = InstrumentedState(
        SimulatorConfig(seed=SEED + 2, rate_limit_per_minute=SIMULATOR_PER_MINUTE)
    )
    orders = paid_orders(state, OUTAGE_ORDERS)
    commands: list[Command] = []
    for n, order_id in enumerate(orders):
        commands.append(set_status(order_id, "PROCESSING"))
        commands.append(add_shipment(order_id, f"OUT{n:07d}"))
        commands.append(set_status(order_id, rng.choice(("SENT", "READY_FOR_SHIPMENT"))))
    # The import stays busy too: new orders keep coming during the whole test.
    stream = OrderStream(state, orders=None, seed=SEED + 2, step_seconds=0.05)
    bootstrap = kafka_topics.bootstrap_servers
    begun, over = threading.Event(), threading.Event()
    with SimulatorServer(state) as server:
        env = env_for(
            server,
            state,
            kafka_topics,
            tmp_path / "state.db",
            POLL_INTERVAL_SECONDS="0.05",
            ALLEGRO_RATE_LIMIT_PER_MINUTE=str(PER_MINUTE),
            ALLEGRO_RATE_LIMIT_BURST="5",
        )
        stream.start()
        try:
            with ServiceProcess(env, "run") as service:
                await send_commands(bootstrap, kafka_topics.topic_commands, commands[:6])
                first = await results_once_all_answered(
                    bootstrap, kafka_topics.topic_command_results, commands[:2], 60
                )
                threading.Thread(target=outage, args=(state, begun, over), daemon=True).start()
                assert begun.wait(timeout=5), "the outage never began"
                await send_commands(bootstrap, kafka_topics.topic_commands, commands[6:])
                assert over.wait(timeout=OUTAGE_SECONDS + 10), "the outage never ended"
                during = Results(await read_topic(bootstrap, kafka_topics.topic_command_results))
                results = await results_once_all_answered(
                    bootstrap, kafka_topics.topic_command_results, commands, BUDGET_DEADLINE
                )
                # The budget is only tested by a run longer than its window.
                remaining = WINDOW + 5 - (time.monotonic() - started)
                if remaining > 0:  # the import keeps polling meanwhile: load on the budget
                    await asyncio.sleep(remaining)
                service.terminate()
                assert service.wait_exit(within=30) == 0, service.stderr_tail()
                held = service.count("command held, will retry")
        finally:
            stream.stop()
        arrivals = state.arrivals_snapshot()
        log = state.request_log

    ours = [e for e in log if e.client_id in (state.config.client_id, None)]
    rest = [a.monotonic for a in arrivals]
    oauth = [e.monotonic for e in log if not is_rest(e.path)]
    peak_arrivals = sliding_window_max(rest + oauth, WINDOW)
    peak_logged = sliding_window_max([e.monotonic for e in ours], WINDOW)
    writes = Counter(e.method for e in log if e.method in ("PUT", "POST"))
    statuses = Counter(e.status for e in log if is_rest(e.path))
    faulted = sum(count for status, count in statuses.items() if status >= 500)
    print(
        f"\noutage: {len(commands)} commands, {len(first.records)} results before it, "
        f"{len(during.records)} by its end, {len(results.records)} in all; {held} holds, "
        f"{faulted} answered 5xx; "
        f"{len(log)} requests ({dict(writes)} writes, answers {dict(statuses)}) over "
        f"{log[-1].monotonic - log[0].monotonic:.0f} s, {stream.started} orders started; "
        f"peak per {WINDOW:g} s: {peak_arrivals} arrivals, {peak_logged} in the request log "
        f"(budget {PER_MINUTE}); {elapsed_since(started)} s"
    )
    # The outage left a backlog of commands, which drained after it.
    assert faulted > 0, "Allegro's outage was never met"
    assert held > 0, "the outage never reached the command loop"
    assert during.missing(commands), "no command waited for the outage's end"
    assert results.missing(commands) == []
    assert results.differing() == []
    assert {results.outcome(c) for c in commands} == {("CommandSucceeded", None)}
    assert shipment_problems(state, commands) == []
    assert status_problems(state, commands) == []
    assert order_problems(results, commands) == []
    # Not vacuous: the run asked for more than one window's budget.
    assert len(ours) > PER_MINUTE, f"only {len(ours)} requests: the budget went untested"
    assert peak_arrivals <= PER_MINUTE
    assert peak_logged <= PER_MINUTE
