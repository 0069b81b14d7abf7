"""One function per measurement; each starts its own simulator process and returns figures."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import BATCH_PAGES, fresh_topics, pipeline
from simproc import SimProcess, service_env

from application.poll_loop import PollLoop
from application.ports import SystemClock

BUDGET_PER_MINUTE = 150
BUDGET_BURST = 5
SPACING = 0.01  # seconds of simulated time between two scripted actions
BURST_SPACING = 0.05  # 5 000 orders in ~10 minutes: a sales peak
BURST_BUYERS = 200  # buyers between purchase and payment at any moment
DRAIN_TIMEOUT = 900.0  # seconds a `run --once` probe may take before the benchmark fails
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Drain:
    strategy: str
    imported: int
    published: int
    seconds: float
    cpu_seconds: float  # this process's CPU: the service side alone
    requests: int

    @property
    def orders_per_second(self) -> float:
        return self.imported / self.seconds if self.seconds else 0.0

    @property
    def requests_per_order(self) -> float:
        return self.requests / self.imported if self.imported else math.inf


@contextmanager
def profiled(label: str) -> Iterator[None]:
    """With BENCH_PROFILE=<dir>, profile the block with pyinstrument (installed separately:
    `.venv/bin/pip install pyinstrument`) and write `<dir>/<label>.txt`."""
    target = os.environ.get("BENCH_PROFILE")
    if not target:
        yield
        return
    from pyinstrument import Profiler  # optional: only for profiling runs

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        Path(target).mkdir(parents=True, exist_ok=True)
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        (Path(target) / f"{label}.txt").write_text(text)


Strategies = tuple[tuple[str, bool], ...]
STRATEGIES: Strategies = (("bulk", True), ("single", False))


async def _drain(sim: SimProcess, broker: str, workdir: Path, name: str, bulk: bool) -> Drain:
    assert sim.info is not None
    sim.call("clear_requests")
    async with pipeline(sim.info, sim.call("refresh_token"), broker, workdir) as pipe:
        sync = pipe.sync(bulk=bulk)
        with profiled(f"drain-{name}"):
            started, cpu = time.perf_counter(), time.process_time()
            await sync.drain()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        requests = len(sim.call("requests"))
    publisher = pipe.publisher
    return Drain(name, publisher.imported, publisher.published, seconds, cpu, requests)


async def throughput(
    broker: str, workdir: Path, orders: int, strategies: Strategies = STRATEGIES
) -> list[Drain]:
    """Mixed lifecycles, drained with no rate limit anywhere: the pipeline's own cost."""
    with SimProcess() as sim:
        sim.call("script", orders, 7, SPACING)
        return [await _drain(sim, broker, workdir, n, b) for n, b in strategies]


async def burst(
    broker: str, workdir: Path, orders: int, strategies: Strategies = STRATEGIES
) -> list[Drain]:
    """A backlog of `orders` freshly paid orders: requests per imported order."""
    with SimProcess() as sim:
        sim.call("burst", orders, 11, BURST_SPACING, BURST_BUYERS)
        return [await _drain(sim, broker, workdir, n, b) for n, b in strategies]


@dataclass(frozen=True, slots=True)
class Trickle:
    strategy: str
    imported: int
    requests: int
    p50: float
    p95: float

    @property
    def requests_per_order(self) -> float:
        return self.requests / self.imported if self.imported else math.inf


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def trickle(
    broker: str, workdir: Path, seconds: float, per_second: float, poll_seconds: float
) -> list[Trickle]:
    """Purchases at a steady rate, each paid a second later; the service polls every
    `poll_seconds`. Latency: payment (READY_FOR_PROCESSING) to the broker's ack."""
    results = []
    for name, bulk in STRATEGIES:
        with SimProcess() as sim:
            assert sim.info is not None
            async with pipeline(sim.info, sim.call("refresh_token"), broker, workdir) as pipe:
                loop = PollLoop(pipe.sync(bulk=bulk), SystemClock(), idle_seconds=poll_seconds)
                stop = asyncio.Event()
                task = asyncio.create_task(loop.run(stop))
                sim.call("trickle_start", per_second, 1.0)
                await asyncio.sleep(seconds)
                sim.call("trickle_stop")
                expected = sim.call("imports_expected")
                with contextlib.suppress(TimeoutError):  # the figures will show the shortfall
                    async with asyncio.timeout(10 * poll_seconds + 10):
                        await pipe.publisher.wait_imported(expected)
                stop.set()
                await task
                requests = len(sim.call("requests"))
            latencies = pipe.publisher.latencies
            results.append(
                Trickle(
                    name,
                    pipe.publisher.imported,
                    requests,
                    percentile(latencies, 0.5),
                    percentile(latencies, 0.95),
                )
            )
    return results


@dataclass(frozen=True, slots=True)
class Budget:
    strategy: str
    batch_size: int  # events per journal page
    pages: int  # journal pages per batch at most
    backlog: int
    imported: int
    seconds: float
    requests: int
    peak_minute: int  # most requests arriving at Allegro in any 60-second window
    rejected: int  # 429 answers

    @property
    def orders_per_second(self) -> float:
        return self.imported / self.seconds if self.seconds else 0.0


def peak_in_window(times: list[float], window: float = 60.0) -> int:
    """The largest number of `times` inside any half-open window of `window` seconds."""
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def budget(broker: str, workdir: Path, seconds: float, backlog: int) -> list[Budget]:
    """Allegro's limit and the client's bucket both at 150/min (burst 5): a backlog of paid
    orders drained for `seconds`; the batch in flight at the deadline is abandoned. One read
    per order gets batches of 100 events: a 1 000-event batch would not finish in time."""
    results = []
    for name, bulk in STRATEGIES:
        batch_size = 1000 if bulk else 100
        pages = BATCH_PAGES if bulk else 1
        backlog = backlog if bulk else min(backlog, 2_000)  # it imports ~2 orders/s
        with SimProcess(rate_limit_per_minute=BUDGET_PER_MINUTE) as sim:
            assert sim.info is not None
            sim.call("burst", backlog, 13, BURST_SPACING, BURST_BUYERS)
            sim.call("clear_requests")
            async with pipeline(
                sim.info,
                sim.call("refresh_token"),
                broker,
                workdir,
                per_minute=BUDGET_PER_MINUTE,
                burst=BUDGET_BURST,
            ) as pipe:
                sync = pipe.sync(bulk=bulk, batch_size=batch_size, pages=pages)
                started = time.perf_counter()
                try:
                    async with asyncio.timeout(seconds):
                        while True:
                            await sync.run_batch()
                except TimeoutError:
                    pass
                elapsed = time.perf_counter() - started
            log = sim.call("requests")
            results.append(
                Budget(
                    name,
                    batch_size,
                    pages,
                    backlog,
                    pipe.publisher.imported,
                    elapsed,
                    len(log),
                    peak_in_window(sim.call("arrivals")),
                    sum(1 for entry in log if entry[2] == 429),
                )
            )
    return results


@dataclass(frozen=True, slots=True)
class Backfill:
    orders: int
    seen: int
    published: int
    requests: int
    seconds: float
    peak_rss_mb: float
    simulator_rss_mb: float


def backfill(broker: str, workdir: Path, sizes: list[int]) -> list[Backfill]:
    """`SweepCheckoutForms` over the first n orders, in a fresh process per size, so that
    its peak RSS (VmHWM) is the service's alone."""
    total = max(sizes)
    results = []
    with SimProcess() as sim:
        assert sim.info is not None
        sim.call("script", total, 5, SPACING)
        first, _ = sim.call("bought_range")
        for size in sizes:
            until = sim.call("nth_bought", size)
            spec = {
                "url": sim.info.url,
                "client_id": sim.info.client_id,
                "client_secret": sim.info.client_secret,
                "refresh_token": sim.call("refresh_token"),
                "bootstrap_servers": broker,
                "workdir": str(workdir),
                "since": first,
                "until": until,
            }
            done = subprocess.run(
                [sys.executable, str(HERE / "backfill_probe.py"), json.dumps(spec)],
                capture_output=True,
                text=True,
                timeout=1800,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"backfill probe failed:\n{done.stderr[-3000:]}")
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            results.append(Backfill(orders=size, simulator_rss_mb=0.0, **figures))
        simulator_rss = sim.call("peak_rss_mb")
    return [
        Backfill(r.orders, r.seen, r.published, r.requests, r.seconds, r.peak_rss_mb, simulator_rss)
        for r in results
    ]


@dataclass(frozen=True, slots=True)
class DrainMemory:
    orders: int  # paid orders waiting in the journal
    events: int  # journal events the drain read
    batches: int
    published: int
    dead_lettered: int
    seconds: float
    peak_rss_mb: float


async def drain_memory(broker: str, workdir: Path, sizes: list[int]) -> list[DrainMemory]:
    """`openoms-allegro run --once` over a backlog of n orders placed and paid in the
    simulator first, in a fresh process per size (`drain_probe.py`), so that its peak RSS
    (VmHWM) is the service's alone."""
    results = []
    for size in sizes:
        with SimProcess() as sim:
            assert sim.info is not None
            sim.call("burst", size, 17, BURST_SPACING, BURST_BUYERS)
            env = await _drain_env(sim, broker, workdir / f"drain-{size}.db")
            figures = await _probe(HERE / "drain_probe.py", env)
        results.append(
            DrainMemory(
                orders=size,
                events=figures["events"],
                batches=figures["batches"],
                published=figures["published"],
                dead_lettered=figures["dead_lettered"],
                seconds=figures["seconds"],
                peak_rss_mb=figures["peak_rss_mb"],
            )
        )
    return results


async def _probe(script: Path, env: dict[str, str]) -> dict[str, Any]:
    """Runs `script` in a fresh interpreter, killed after `DRAIN_TIMEOUT`; its last line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"{script.name} failed:\n{err.decode(errors='replace')[-3000:]}")
    figures: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return figures


async def _drain_env(sim: SimProcess, broker: str, state_db: Path) -> dict[str, str]:
    """The service's environment for `run --once` on fresh topics and a fresh state file, as
    the end-to-end tests set it (`tests/support/service.py`), at the fastest rate it allows."""
    assert sim.info is not None
    kafka = await fresh_topics(broker, "drain")
    return service_env(
        sim,
        broker,
        (kafka.topic_orders, kafka.topic_dlq),
        ALLEGRO_RATE_LIMIT_PER_MINUTE="9000",  # the most the settings allow
        ALLEGRO_RATE_LIMIT_BURST="1000",
        STATE_URL=f"sqlite:///{state_db}",
        TOKEN_ENCRYPTION_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        HTTP_PORT="0",
        LOG_LEVEL="WARNING",
    )
