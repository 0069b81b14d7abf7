"""Takeover after a crash: `.venv/bin/python bench/takeover.py` (PostgreSQL state, two replicas).

Two real `openoms-allegro run` processes share a PostgreSQL schema, the Allegro simulator (in
a child process, with new paid orders arriving at a steady rate) and the embedded Kafka
broker. The leader is SIGKILLed `--kills` times; each time the bench records how long the
other replica takes to lead (`/readyz` role) and to publish its first order, then starts a
fresh replica in place of the killed one. Every wait has a deadline, so the run is bounded
(by about `--kills` x (ttl + 15 s) when takeovers are TTL-bound). Needs PostgreSQL at
`OPENOMS_BENCH_POSTGRES_DSN` (default: the tests' `postgresql://postgres@127.0.0.1:5432/test`);
the bench's schema is dropped at the end. Raw figures go to `bench/results/takeover-*.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
from pipeline import fresh_topics
from psycopg import sql
from simproc import SimProcess, service_env

from sandbox.kafka_broker import EmbeddedBroker, die_with_parent

DSN = os.environ.get("OPENOMS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
RESULTS = Path(__file__).resolve().parent / "results"
KEY = base64.urlsafe_b64encode(b"openoms-allegro-bench-key-32byte").decode()
ORDERS_PER_SECOND = 2.0
PROBE_SECONDS = 0.02
SETTLE_SECONDS = 60.0  # a fresh replica reaches standby (imports, migrations, Kafka) in this
ACQUIRED = "lease acquired: this replica polls the account"
PUBLISHED = re.compile(
    r'^openoms_allegro_events_published_total\{event_type="OrderImported"\} (\S+)$', re.M
)


class Replica:
    """One `openoms-allegro run` process; its logs go to a file (a full pipe would stall it)."""

    def __init__(self, env: dict[str, str], logs: Path, name: str) -> None:
        self.port = _free_port()
        self.log_path = logs / f"replica-{name}.log"
        self._log: IO[str] = self.log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "run"],
            env={**env, "HTTP_PORT": str(self.port)},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            preexec_fn=die_with_parent(),
        )

    def role(self) -> str | None:
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2.0)
        except httpx.TransportError:
            return None
        return str(response.json().get("role"))

    def published(self) -> float:
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2.0)
        except httpx.TransportError:
            return 0.0
        found = PUBLISHED.search(response.text)
        return float(found.group(1)) if found else 0.0

    def lease_acquired_after(self, moment: float) -> float:
        """When (epoch seconds, by its log) this replica first took the lease after `moment`."""
        for line in self.log_path.read_text(errors="replace").splitlines():
            if ACQUIRED in line:
                at = datetime.fromisoformat(json.loads(line)["time"]).timestamp()
                if at >= moment:
                    return at
        raise RuntimeError(f"{self.log_path.name}: no {ACQUIRED!r} after the kill")

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=3, help="how many leaders to SIGKILL")
    parser.add_argument("--ttl", type=float, default=30.0, help="LEASE_TTL_SECONDS")
    args = parser.parse_args()
    figures = run(max(1, min(args.kills, 20)), args.ttl)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"takeover-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(figures, indent=2))
    print(render(figures))
    print(f"\nraw figures: {out}")


def run(kills: int, ttl: float) -> dict[str, Any]:
    bound = ttl + ttl / 6 + 15.0  # the lease's own bound (expiry + a standby's retry) + slack
    takeovers: list[dict[str, float]] = []
    with ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker())
        sim = stack.enter_context(SimProcess(seed=7))
        schema = stack.enter_context(_throwaway_schema())
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-takeover-")))
        env = _env(sim, broker.bootstrap_servers, schema, ttl)
        sim.call("trickle_start", ORDERS_PER_SECOND, 0.2)
        replicas = [Replica(env, logs, "0"), Replica(env, logs, "1")]
        stack.callback(lambda: [replica.stop() for replica in replicas])
        try:
            for kill in range(1, kills + 1):
                leader, standby = _settled(replicas)
                takeovers.append(_kill_and_measure(leader, standby, bound, kill))
                replicas[replicas.index(leader)] = Replica(env, logs, str(kill + 1))
        except TimeoutError:
            for replica in replicas:
                print(f"--- {replica.log_path.name}:\n{replica.tail()}", file=sys.stderr)
            raise
        sim.call("trickle_stop")
    return {"lease_ttl_seconds": ttl, "takeovers": takeovers}


def _kill_and_measure(
    leader: Replica, standby: Replica, bound: float, kill: int
) -> dict[str, float]:
    """SIGKILLs `leader`; seconds until `standby` takes the lease (by its log's clock), says
    it leads (`/readyz`, which answers in its own time), and publishes an order."""
    _wait(lambda: leader.published() > 0, SETTLE_SECONDS, "the leader to publish")
    before = standby.published()
    killed_at, killed_wall = time.monotonic(), time.time()
    leader.kill()
    _wait(lambda: standby.role() == "leader", bound, f"takeover #{kill}")
    leads = time.monotonic() - killed_at
    _wait(lambda: standby.published() > before, bound, "the new leader to publish")
    publishes = time.monotonic() - killed_at
    acquired = standby.lease_acquired_after(killed_wall) - killed_wall
    print(
        f"[bench] kill #{kill}: lease taken after {acquired:.3f} s, /readyz says leader after "
        f"{leads:.2f} s, publishes after {publishes:.2f} s",
        file=sys.stderr,
        flush=True,
    )
    return {
        "acquired": round(acquired, 3),
        "leads": round(leads, 3),
        "publishes": round(publishes, 3),
    }


def render(figures: dict[str, Any]) -> str:
    takeovers = figures["takeovers"]
    rows = [
        ("kill -> the other replica takes the lease (its log)", "acquired"),
        ("kill -> its `/readyz` says leader", "leads"),
        ("kill -> it publishes an order", "publishes"),
    ]
    lines = [
        f"| takeover after SIGKILL (lease ttl {figures['lease_ttl_seconds']:g} s, "
        f"{len(takeovers)} kills) | median | max |",
        "|---|---|---|",
    ]
    for label, key in rows:
        values = [t[key] for t in takeovers]
        lines.append(f"| {label} | {statistics.median(values):.2f} s | {max(values):.2f} s |")
    return "\n".join(lines)


def _settled(replicas: list[Replica]) -> tuple[Replica, Replica]:
    def settled() -> bool:
        return sorted(str(r.role()) for r in replicas) == ["leader", "standby"]

    _wait(settled, SETTLE_SECONDS, "one leader and one standby")
    first, second = replicas
    return (first, second) if first.role() == "leader" else (second, first)


def _wait(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:.0f} s waiting for {what}")
        time.sleep(PROBE_SECONDS)


def _env(sim: SimProcess, bootstrap_servers: str, schema: str, ttl: float) -> dict[str, str]:
    assert sim.info is not None
    kafka = asyncio.run(fresh_topics(bootstrap_servers, "takeover"))
    separator = "&" if "?" in DSN else "?"
    return service_env(
        sim,
        bootstrap_servers,
        (kafka.topic_orders, kafka.topic_dlq),
        ALLEGRO_RATE_LIMIT_PER_MINUTE="6000",
        ALLEGRO_RATE_LIMIT_BURST="50",
        STATE_URL=f"{DSN}{separator}schema={schema}",
        TOKEN_ENCRYPTION_KEY=KEY,
        LEASE_TTL_SECONDS=f"{ttl:g}",
        POLL_INTERVAL_SECONDS="0.2",
        HTTP_HOST="127.0.0.1",
    )


@contextmanager
def _throwaway_schema() -> Iterator[str]:
    schema = f"bench_takeover_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        with psycopg.connect(DSN, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    main()
