"""Benchmarks: `.venv/bin/python bench/run.py` (or `make bench`); `--quick` for a short run.

Everything runs on loopback: the Allegro simulator in a child process, the embedded Kafka
broker (tansu), and the service's real adapters in this process (the `offers` part runs the
service as `openoms-allegro run` and the simulator here: see bench/offers.py). Each part stops
by itself; the full run takes about 15 minutes on a 2-core machine, `--quick` about 5. The
tables go to stdout, the raw figures to `bench/results/<timestamp>.json` (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common import reference_seconds
from offers import OFFERS_FULL, OFFERS_QUICK, OfferSizes, offers
from offers import render as render_offers
from scenarios import (
    BUDGET_BURST,
    BUDGET_PER_MINUTE,
    STRATEGIES,
    Budget,
    Drain,
    Strategies,
    Trickle,
    backfill,
    budget,
    burst,
    drain_memory,
    throughput,
    trickle,
)

from entrypoints.gc_tuning import tune_gc
from sandbox.kafka_broker import EmbeddedBroker

PARTS = ("throughput", "burst", "trickle", "budget", "backfill", "drain_memory", "offers")
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Sizes:
    pipeline_orders: int
    burst_orders: int
    trickle_seconds: float
    budget_seconds: float
    budget_backlog: int
    backfill_sizes: list[int]
    drain_sizes: list[int]  # paid orders waiting for `run --once`
    offers: OfferSizes


FULL = Sizes(20_000, 5_000, 30.0, 75.0, 25_000, [20_000, 100_000], [3_000, 40_000], OFFERS_FULL)
QUICK = Sizes(5_000, 5_000, 10.0, 20.0, 8_000, [5_000, 20_000], [3_000, 20_000], OFFERS_QUICK)
TRICKLE_PER_SECOND = 2.0
POLL_SECONDS = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, ~3 minutes")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts")
    parser.add_argument(
        "--bulk-only",
        action="store_true",
        help="pipeline and burst: skip the one-read-per-order drains (quicker A/B runs)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sizes = QUICK if args.quick else FULL
    parts = args.only or list(PARTS)
    tune_gc()  # as `openoms-allegro run` does
    reference = reference_seconds()
    strategies = STRATEGIES[:1] if args.bulk_only else STRATEGIES
    figures = asyncio.run(_run(sizes, parts, strategies))
    figures["reference_loop_seconds"] = [round(reference, 3), round(reference_seconds(), 3)]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(figures, indent=2, default=str))
    if set(parts) - {"offers"}:
        print(render(figures, sizes))
    if "offers" in figures:
        print("\n" + render_offers(figures["offers"]))
    start, end = figures["reference_loop_seconds"]
    print(
        f"\nmachine reference: a pure-Python loop of 10 000 000 additions took {start:.2f} s "
        f"of CPU before the run, {end:.2f} s after (best of 3): compare runs only at similar "
        "values"
    )
    print(f"\nraw figures: {out}")


async def _run(sizes: Sizes, parts: list[str], strategies: Strategies) -> dict[str, Any]:
    figures: dict[str, Any] = {"sizes": asdict(sizes)}
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        servers, workdir = broker.bootstrap_servers, Path(tmp)
        if "throughput" in parts:
            _progress("pipeline throughput, no rate limit")
            drains = await throughput(servers, workdir, sizes.pipeline_orders, strategies)
            figures["throughput"] = [_drain(d) for d in drains]
        if "burst" in parts:
            _progress(f"burst of {sizes.burst_orders} paid orders")
            drains = await burst(servers, workdir, sizes.burst_orders, strategies)
            figures["burst"] = [_drain(d) for d in drains]
        if "trickle" in parts:
            _progress(f"steady trickle, {sizes.trickle_seconds:.0f} s per strategy")
            trickles = await trickle(
                servers, workdir, sizes.trickle_seconds, TRICKLE_PER_SECOND, POLL_SECONDS
            )
            figures["trickle"] = [_trickle(t) for t in trickles]
        if "budget" in parts:
            _progress(f"budget-bound, {sizes.budget_seconds:.0f} s per strategy")
            budgets = await budget(servers, workdir, sizes.budget_seconds, sizes.budget_backlog)
            figures["budget"] = [_budget(b) for b in budgets]
        if "backfill" in parts:
            _progress(f"backfill memory, {sizes.backfill_sizes} orders")
            figures["backfill"] = [
                asdict(b) for b in backfill(servers, workdir, sizes.backfill_sizes)
            ]
        if "drain_memory" in parts:
            _progress(f"run --once memory, {sizes.drain_sizes} paid orders")
            drains = await drain_memory(servers, workdir, sizes.drain_sizes)
            figures["drain_memory"] = [asdict(d) for d in drains]
        if "offers" in parts:
            _progress(f"offers: {sizes.offers.singles} single commands, then a burst")
            figures["offers"] = await offers(servers, workdir, sizes.offers)
    return figures


def _progress(what: str) -> None:
    print(f"[bench] {what} ...", file=sys.stderr, flush=True)


def _drain(d: Drain) -> dict[str, Any]:
    return {
        **asdict(d),
        "orders_per_second": round(d.orders_per_second, 1),
        "requests_per_order": round(d.requests_per_order, 4),
    }


def _trickle(t: Trickle) -> dict[str, Any]:
    return {**asdict(t), "requests_per_order": round(t.requests_per_order, 3)}


def _budget(b: Budget) -> dict[str, Any]:
    return {**asdict(b), "orders_per_second": round(b.orders_per_second, 2)}


def _by(rows: list[dict[str, Any]], strategy: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["strategy"] == strategy), None)


def render(figures: dict[str, Any], sizes: Sizes) -> str:
    lines = [
        "| measurement | bulk reads | one read per order | target |",
        "|---|---|---|---|",
    ]

    def row(label: str, key: str, fmt: Any, target: str) -> None:
        rows = figures.get(key)
        if not rows:
            return
        cells = [fmt(r) if (r := _by(rows, s)) else "-" for s in ("bulk", "single")]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {target} |")

    row(
        f"pipeline, no rate limit: orders imported/s ({sizes.pipeline_orders} mixed orders)",
        "throughput",
        lambda r: f"{r['orders_per_second']:.0f} ({r['imported']} in {r['seconds']:.1f} s)",
        ">= 2000",
    )
    row(
        "  service CPU per imported order (same run)",
        "throughput",
        lambda r: f"{r['cpu_seconds'] * 1000 / max(r['imported'], 1):.2f} ms",
        "",
    )
    row(
        "requests per imported order, mixed lifecycles (same run)",
        "throughput",
        lambda r: f"{r['requests_per_order']:.3f} ({r['requests']} / {r['imported']})",
        "",
    )
    row(
        f"pipeline, no rate limit: orders imported/s (burst of {sizes.burst_orders} paid orders)",
        "burst",
        lambda r: f"{r['orders_per_second']:.0f} ({r['imported']} in {r['seconds']:.1f} s)",
        "",
    )
    row(
        f"requests per imported order, burst of {sizes.burst_orders} paid orders",
        "burst",
        lambda r: f"{r['requests_per_order']:.3f} ({r['requests']} / {r['imported']})",
        "<= 0.1",
    )
    row(
        f"requests per imported order, trickle ({TRICKLE_PER_SECOND:g} orders/s, "
        f"poll every {POLL_SECONDS:g} s)",
        "trickle",
        lambda r: f"{r['requests_per_order']:.2f} ({r['requests']} / {r['imported']})",
        "",
    )
    row(
        "event-to-ack latency p50 / p95, trickle",
        "trickle",
        lambda r: f"{r['p50'] * 1000:.0f} / {r['p95'] * 1000:.0f} ms",
        "",
    )
    row(
        f"budget-bound: orders imported/s at {BUDGET_PER_MINUTE}/min burst {BUDGET_BURST} "
        f"({sizes.budget_seconds:.0f} s)",
        "budget",
        lambda r: (
            f"{r['orders_per_second']:.1f} ({r['imported']} orders, batches of "
            f"{r.get('pages', 1)} x {r['batch_size']} events"
            f"{', backlog exhausted' if r['imported'] >= r['backlog'] else ''})"
        ),
        "",
    )
    row(
        "most requests arriving in any 60 s window / 429 answers",
        "budget",
        lambda r: f"{r['peak_minute']} / {r['rejected']}",
        f"<= {BUDGET_PER_MINUTE} / 0",
    )
    for result in figures.get("backfill", []):
        lines.append(
            f"| backfill of {result['orders']} orders (SweepCheckoutForms): service peak RSS | "
            f"{result['peak_rss_mb']:.0f} MB ({result['seen']} orders, {result['requests']} "
            f"requests, {result['seconds']:.0f} s) | - | < 200 MB, flat |"
        )
    for result in figures.get("drain_memory", []):
        lines.append(
            f"| `run --once` over {result['orders']} paid orders: service peak RSS | "
            f"{result['peak_rss_mb']:.0f} MB ({result['published']} events published, "
            f"{result['batches']} batches, {result['seconds']:.0f} s) | - | flat |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
