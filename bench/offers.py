"""Offers (issue 16): what the inventory path costs Allegro and how long a stock change takes.

`.venv/bin/python bench/offers.py [--quick]`, or the `offers` part of `bench/run.py`.

The service is `openoms-allegro run` in a child process (the CLI's one composition root, every
setting at its default: the rate budget of ALLEGRO_RATE_LIMIT_PER_MINUTE shared by the order
import, the offer events and the inventory path); the simulator runs in this process, so that
Allegro's state can be read as it changes; the broker is the embedded one. Measured:

- single `SetStock` commands, one at a time: latency from the command's send to Allegro
  showing the value on every offer of the SKU, and to the command's result on Kafka;
- bursts over another catalog (every SKU, two commands each, the last one counts; see
  BURSTS): every request the service made for a burst until its last result (batch command
  PUTs, report and task reads, SKU lookups), offers synchronised per request, batch commands
  per 1 000 offers, and latencies; the offer events path's and the import's requests in the
  same window are counted apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pipeline import fresh_topics
from takeover import KEY, Replica

from adapters.kafka import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from sandbox.kafka_broker import EmbeddedBroker

ACCOUNT = "bench"
SEED = 1616
RESULTS = Path(__file__).resolve().parent / "results"
RESULT_TYPE = "openoms.allegro.command_result.v1"
# The bursts' stock levels: one quantity batch command per level and round (docs/offers.md).
# The same catalog four times: its SKUs unknown to the service (looked up), then known, then
# known with as many levels as a real catalog's stock shows, then one level for all. Each
# burst's levels differ from the one before, so every offer changes every time.
BURSTS = (
    ("burst", "5 levels, SKUs looked up", (10, 20, 30, 40, 50)),
    ("burst_known_skus", "5 levels, SKUs known", (11, 21, 31, 41, 51)),
    ("burst_50_levels", "50 levels, SKUs known", tuple(range(101, 151))),
    # A restock of every offer to one level: full batch commands, the shape the issue's
    # ">= 500 offers per request" assumes (1 500 offers: a command of 1 000 and one of 500).
    ("burst_one_level", "1 level, SKUs known", (60,)),
)
START_WITHIN = 120.0  # the service's start: the first result
SINGLE_WITHIN = 120.0  # one command's value on Allegro and its result
BURST_WITHIN = 600.0
PROBE_SECONDS = 0.005  # how often Allegro's state is read while a single command is applied


@dataclass(frozen=True, slots=True)
class OfferSizes:
    singles: int  # single commands, one at a time
    single_offers: int  # the catalog the single commands address...
    single_skus: int
    burst_offers: int  # ...and the burst's, apart
    burst_skus: int
    burst_commands_per_sku: int  # the burst's last one per SKU is the value that counts


OFFERS_FULL = OfferSizes(200, 250, 100, 1_500, 600, 2)
OFFERS_QUICK = OfferSizes(40, 250, 100, 1_500, 600, 2)


@dataclass(slots=True)
class Watcher:
    """The command-results topic, read as it is written: when each command's first result
    arrived (monotonic seconds)."""

    consumer: AIOKafkaConsumer
    arrived: dict[str, float] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def pump(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    headers = dict(record.headers)
                    if headers.get("ce_type") != RESULT_TYPE.encode():
                        continue
                    command_id = str(json.loads(record.value)["command_id"])
                    self.arrived.setdefault(command_id, now)
            if batches:
                self.changed.set()

    async def wait_for(self, command_ids: Iterable[str], within: float) -> None:
        wanted = set(command_ids)
        async with asyncio.timeout(within):
            while not wanted <= self.arrived.keys():
                self.changed.clear()
                await self.changed.wait()


def set_stock(sku: str, available: int) -> dict[str, Any]:
    return {
        "command_id": str(uuid.uuid4()),
        "command_type": "SetStock",
        "account": ACCOUNT,
        "sku": sku,
        "available": available,
    }


async def send(producer: AIOKafkaProducer, topic: str, command: dict[str, Any]) -> float:
    """Sends one command keyed by its SKU (as OpenOMS does); when it was handed over."""
    sent = time.monotonic()
    now = datetime.now(UTC).isoformat().encode()
    await producer.send(
        topic,
        json.dumps(command).encode(),
        key=command["sku"].encode(),
        headers=[("ce_time", now)],
    )
    return sent


def skus_of(state: SimulatorState, offer_ids: Iterable[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for offer_id in offer_ids:
        found.setdefault(state.offer(offer_id)["external"]["id"], []).append(offer_id)
    return found


def holds(state: SimulatorState, offer_ids: Iterable[str], available: int) -> bool:
    """Allegro shows `available` on every one of `offer_ids`, active."""
    for offer_id in offer_ids:
        offer = state.offer(offer_id)
        if (offer["stock"]["available"], offer["publication"]["status"]) != (available, "ACTIVE"):
            return False
    return True


def _holding(state: SimulatorState, offer_ids: list[str], available: int) -> Callable[[], bool]:
    return lambda: holds(state, offer_ids, available)


async def until(condition: Callable[[], bool], within: float, what: str, poll: float) -> float:
    """Polls `condition` (bounded); the monotonic time it first held."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(poll)
    return time.monotonic()


def category(method: str, path: str) -> str:
    """What a request was for, by Allegro's resource."""
    if path.startswith("/order/"):
        return "order import"
    if path.startswith("/sale/offer-events") or path.startswith("/sale/product-offers/"):
        return "offer events"
    if path == "/sale/offers":
        return "SKU lookups"
    if "-commands/" in path:
        if method == "PUT":
            return "batch command PUTs"
        return "task reads" if path.endswith("/tasks") else "report reads"
    return "other"


INVENTORY = ("batch command PUTs", "report reads", "task reads", "SKU lookups")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def latency(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.5), 3),
        "p95": round(percentile(values, 0.95), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def service_env(
    server: SimulatorServer, state: SimulatorState, kafka: KafkaConfig, state_db: Path
) -> dict[str, str]:
    """The service's environment: this simulator and broker, everything else at its default
    (the rate budget above all)."""
    cfg = state.config
    prefixes = ("ALLEGRO_", "KAFKA_", "STATE_", "TOKEN_", "LOG_", "HTTP_", "OFFER")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    return {
        **env,
        "ALLEGRO_API_URL": server.url,
        "ALLEGRO_AUTH_URL": f"{server.url}/auth/oauth",
        "ALLEGRO_CLIENT_ID": cfg.client_id,
        "ALLEGRO_CLIENT_SECRET": cfg.client_secret,
        "ALLEGRO_REFRESH_TOKEN": state.issue_refresh_token(),
        "ALLEGRO_ACCOUNT": ACCOUNT,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",  # the embedded broker refuses InitProducerId
        "KAFKA_TOPIC_ORDERS": kafka.topic_orders,
        "KAFKA_TOPIC_DLQ": kafka.topic_dlq,
        "KAFKA_TOPIC_COMMANDS": kafka.topic_commands,
        "KAFKA_TOPIC_COMMAND_RESULTS": kafka.topic_command_results,
        "KAFKA_TOPIC_OFFER_COMMANDS": kafka.topic_offer_commands,
        "KAFKA_TOPIC_OFFERS": kafka.topic_offers,
        "STATE_URL": f"sqlite:///{state_db}",
        "TOKEN_ENCRYPTION_KEY": KEY,
        "HTTP_HOST": "127.0.0.1",
        "LOG_FORMAT": "json",
    }


async def offers(servers: str, workdir: Path, sizes: OfferSizes) -> dict[str, Any]:
    state = SimulatorState(SimulatorConfig(seed=SEED))
    singles = skus_of(
        state, state.seed_offers(sizes.single_offers, sizes.single_skus, seed=SEED + 1)
    )
    burst = skus_of(state, state.seed_offers(sizes.burst_offers, sizes.burst_skus, seed=SEED + 2))
    suffix = uuid.uuid4().hex[:8]
    kafka = await fresh_topics(
        servers,
        "offers",
        topic_commands=f"bench.commands.{suffix}",
        topic_command_results=f"bench.command-results.{suffix}",
        topic_offer_commands=f"bench.offer-commands.{suffix}",
        topic_offers=f"bench.offers.{suffix}",
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, fetch_max_wait_ms=20)
    producer = AIOKafkaProducer(bootstrap_servers=servers, enable_idempotence=False, linger_ms=0)
    await consumer.start()
    await producer.start()
    pump: asyncio.Task[None] | None = None
    replica: Replica | None = None
    try:
        await consumer.topics()  # the metadata, for the partitions
        partitions = consumer.partitions_for_topic(kafka.topic_command_results) or {0}
        consumer.assign([TopicPartition(kafka.topic_command_results, p) for p in partitions])
        await consumer.seek_to_beginning()
        watcher = Watcher(consumer)
        pump = asyncio.create_task(watcher.pump())
        with SimulatorServer(state) as server:
            env = service_env(server, state, kafka, workdir / f"offers-{suffix}.db")
            replica = Replica(env, workdir, f"offers-{suffix}")
            try:
                figures = await _measure(state, producer, watcher, kafka, singles, burst, sizes)
            except BaseException:
                print(f"--- service log:\n{replica.tail(30)}")
                raise
            finally:
                replica.stop()
    finally:
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        await producer.stop()
        await consumer.stop()
    return figures


async def _measure(
    state: SimulatorState,
    producer: AIOKafkaProducer,
    watcher: Watcher,
    kafka: KafkaConfig,
    singles: dict[str, list[str]],
    burst: dict[str, list[str]],
    sizes: OfferSizes,
) -> dict[str, Any]:
    topic = kafka.topic_offer_commands
    rng = random.Random(SEED)
    # The service's start (group join, token, first SKU lookup): not a figure.
    warm = set_stock(sorted(singles)[0], 999)
    await send(producer, topic, warm)
    await watcher.wait_for([warm["command_id"]], START_WITHIN)
    to_allegro: list[float] = []
    to_result: list[float] = []
    names = sorted(singles)
    for n in range(sizes.singles):
        sku = rng.choice(names)
        command = set_stock(sku, 1000 + n)  # never the value an offer holds already
        sent = await send(producer, topic, command)
        shown = await until(
            _holding(state, singles[sku], 1000 + n),
            SINGLE_WITHIN,
            f"single command {n} on Allegro",
            PROBE_SECONDS,
        )
        await watcher.wait_for([command["command_id"]], SINGLE_WITHIN)
        to_allegro.append(shown - sent)
        to_result.append(watcher.arrived[command["command_id"]] - sent)
    bursts = {
        key: await _burst(state, producer, watcher, topic, burst, levels, sizes, rng)
        for key, _, levels in BURSTS
    }
    return {
        "sizes": asdict(sizes),
        "rate_limit_per_minute": "default",
        "offer_command_delay_seconds": state.config.offer_command_delay_seconds,
        "single": {
            "commands": sizes.singles,
            "to_allegro": latency(to_allegro),
            "to_result": latency(to_result),
        },
        **bursts,
    }


async def _burst(
    state: SimulatorState,
    producer: AIOKafkaProducer,
    watcher: Watcher,
    topic: str,
    catalog: dict[str, list[str]],
    levels: tuple[int, ...],
    sizes: OfferSizes,
    rng: random.Random,
) -> dict[str, Any]:
    """Every SKU of `catalog`, `burst_commands_per_sku` commands each at one of `levels`,
    interleaved (each SKU's own in order): the last one per SKU is what Allegro must show."""
    scripts = {
        sku: [rng.choice(levels) for _ in range(sizes.burst_commands_per_sku)] for sku in catalog
    }
    commands: list[dict[str, Any]] = []
    while any(scripts.values()):
        sku = rng.choice([s for s, script in scripts.items() if script])
        commands.append(set_stock(sku, scripts[sku].pop(0)))
    by_level: dict[int, list[str]] = {}
    for sku, value in {c["sku"]: c["available"] for c in commands}.items():
        by_level.setdefault(value, []).extend(catalog[sku])
    puts_before = len(state.offer_command_puts())
    log_before = len(state.request_log)
    started = time.monotonic()
    sent_at = {}
    for command in commands:
        sent_at[command["command_id"]] = await send(producer, topic, command)
    await producer.flush()
    on_allegro = await until(
        lambda: all(holds(state, ids, value) for value, ids in by_level.items()),
        BURST_WITHIN,
        "the burst on Allegro",
        0.1,
    )
    await watcher.wait_for(sent_at, BURST_WITHIN)
    answered = max(watcher.arrived[c] for c in sent_at)
    # Stamped when answered: what the service asked for until the burst's last result.
    in_window = [
        e
        for e in state.request_log[log_before:]
        if e.path.startswith(("/sale/", "/order/")) and e.monotonic <= answered
    ]
    kinds = Counter(category(e.method, e.path) for e in in_window)
    accepted = [p for p in state.offer_command_puts()[puts_before:] if p["status"] == 201]
    offers_synced = sum(len(ids) for ids in by_level.values())
    inventory_requests = sum(kinds[k] for k in INVENTORY)
    return {
        "commands": len(commands),
        "skus": len(catalog),
        "offers": offers_synced,
        "levels": len(by_level),
        "on_allegro_seconds": round(on_allegro - started, 3),
        "answered_seconds": round(answered - started, 3),
        "to_result": latency([watcher.arrived[c] - s for c, s in sent_at.items()]),
        "requests": dict(kinds),
        "inventory_requests": inventory_requests,
        "offers_per_request": round(offers_synced / max(inventory_requests, 1), 1),
        "batch_commands": len(accepted),
        "batch_commands_per_1000_offers": round(len(accepted) * 1000 / offers_synced, 2),
        "offer_changes_sent": sum(p["offers"] for p in accepted),
    }


def render(figures: dict[str, Any]) -> str:
    single, sizes = figures["single"], figures["sizes"]
    lines = [
        f"| offers (default rate budget; simulated batch commands final after "
        f"{figures['offer_command_delay_seconds']:g} s) | figure | target |",
        "|---|---|---|",
    ]
    for key, label, _ in BURSTS:
        burst = figures[key]
        kinds = burst["requests"]
        spent = ", ".join(f"{kinds.get(k, 0)} {k}" for k in INVENTORY)
        aside = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()) if k not in INVENTORY)
        lines += [
            f"| burst ({label}): offers synchronised per Allegro request ({burst['commands']} "
            f"SetStock over {burst['skus']} SKUs, {burst['offers']} offers, "
            f"{burst['levels']} levels) | {burst['offers_per_request']:.1f} "
            f"({burst['offers']} / {burst['inventory_requests']}: {spent}) | >= 500 |",
            f"| burst ({label}): batch commands per 1 000 offers | "
            f"{burst['batch_commands_per_1000_offers']:.2f} ({burst['batch_commands']} for "
            f"{burst['offers']} offers) | |",
            f"| burst ({label}): other requests meanwhile | {aside or 'none'} | |",
            f"| burst ({label}): send -> every offer final on Allegro / every result on "
            f"Kafka | {burst['on_allegro_seconds']:.2f} s / {burst['answered_seconds']:.2f} s | |",
            f"| burst ({label}): command -> result on Kafka, p50 / p95 | "
            f"{_ms(burst['to_result'])} | |",
        ]
    lines += [
        f"| single commands one at a time ({sizes['singles']}): command -> value on "
        f"Allegro, p50 / p95 | {_ms(single['to_allegro'])} | |",
        f"| single commands: command -> result on Kafka, p50 / p95 | "
        f"{_ms(single['to_result'])} | |",
    ]
    return "\n".join(lines)


def _ms(figure: dict[str, float]) -> str:
    return f"{figure['p50'] * 1000:.0f} / {figure['p95'] * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer single commands")
    args = parser.parse_args()
    sizes = OFFERS_QUICK if args.quick else OFFERS_FULL
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        figures = asyncio.run(offers(broker.bootstrap_servers, Path(tmp), sizes))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"offers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(figures, indent=2))
    print(render(figures))
    print(f"\nraw figures: {out}")


if __name__ == "__main__":
    main()
