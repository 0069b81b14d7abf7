"""The Allegro simulator in a child process, driven over a pipe (benchmarks only).

The simulator holds every order in memory (~750 MB for 100 000 orders) and serves HTTP from
its own thread; running it in another process keeps its CPU and memory out of the figures
measured for the service. `SimProcess` is the parent's handle; `_main` runs in the child.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import threading
import time
import traceback
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from common import SimInfo, peak_rss_mb

from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from sandbox.allegro.faults import Verdict
from sandbox.allegro.lifecycles import Interleaver

UNLIMITED = 10**9  # requests per minute: "rate limit off"
_START_TIMEOUT = 60.0
_CALL_TIMEOUT = 900.0


class OffsetClock:
    """Real time plus an offset that only grows: scripted orders get realistic spacing
    (`advance` between steps) and the server keeps real-time rates afterwards."""

    def __init__(self) -> None:
        self._offset = 0.0

    def wall(self) -> float:
        return time.time() + self._offset

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


class SimProcess:
    """`with SimProcess(rate_limit_per_minute=150) as sim:` then `sim.call("burst", 5000)`."""

    def __init__(self, *, rate_limit_per_minute: int = UNLIMITED, seed: int = 42) -> None:
        self._rate_limit = rate_limit_per_minute
        self._seed = seed
        self._conn: Connection | None = None
        self._process: mp.process.BaseProcess | None = None
        self.info: SimInfo | None = None

    def __enter__(self) -> SimProcess:
        context = mp.get_context("spawn")  # a clean interpreter: no inherited memory
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_main, args=(child, self._rate_limit, self._seed), daemon=True
        )
        self._process.start()
        self._conn = parent
        if not parent.poll(_START_TIMEOUT):
            self.close()
            raise RuntimeError("the simulator process did not start")
        url, client_id, secret = parent.recv()
        self.info = SimInfo(url, client_id, secret)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, command: str, *args: Any) -> Any:
        if self._conn is None:
            raise RuntimeError("the simulator process is not running")
        self._conn.send((command, args))
        if not self._conn.poll(_CALL_TIMEOUT):
            raise TimeoutError(f"simulator command {command!r} did not answer")
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"simulator command {command!r} failed:\n{value}")
        return value

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(("stop", ()))
                self._conn.poll(10)
            except (BrokenPipeError, OSError):
                pass
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None


# ----------------------------------------------------------------------------- child side


class _ArrivalsState(SimulatorState):
    """Also records when each REST request arrives: Allegro's limit counts arrivals, while
    the request log stamps completion."""

    def __init__(self, cfg: SimulatorConfig, *, clock: OffsetClock) -> None:
        super().__init__(cfg, clock=clock)
        self.arrivals: list[float] = []

    def gate(self, client_id: str | None) -> Verdict:
        with self.locked():
            self.arrivals.append(self.clock.monotonic())
        return super().gate(client_id)


class _Child:
    def __init__(self, state: _ArrivalsState, clock: OffsetClock) -> None:
        self.state = state
        self.clock = clock
        self._trickle_stop = threading.Event()
        self._trickle: threading.Thread | None = None

    def script(self, n: int, seed: int, spacing: float) -> dict[str, int]:
        """`n` orders through mixed lifecycles (like `script_mixed_lifecycles`), `spacing`
        seconds of simulated time between two actions."""
        runner = Interleaver(self.state, random.Random(seed))
        started = 0
        while started < n or runner.active:
            while started < n and runner.active < 32:
                runner.start()
                started += 1
                self.clock.advance(spacing)
            runner.step()
            self.clock.advance(spacing)
        return self.stats()

    def burst(self, n: int, seed: int, spacing: float, buyers: int) -> dict[str, int]:
        """`n` orders bought and paid by up to `buyers` buyers at once (a sales peak):
        BOUGHT, FILLED_IN for half of them, READY_FOR_PROCESSING."""
        rng = random.Random(seed)
        active: list[tuple[str, int]] = []
        placed = 0
        while placed < n or active:
            if placed < n and len(active) < buyers:
                active.append((self.state.place_order(), 0))
                placed += 1
            else:
                position = rng.randrange(len(active))
                order_id, step = active[position]
                if step == 0 and rng.random() < 0.5:
                    self.state.fill_in(order_id)
                    active[position] = (order_id, 1)
                else:
                    self.state.pay(order_id)
                    active[position] = active[-1]
                    active.pop()
            self.clock.advance(spacing)
        return self.stats()

    def trickle_start(self, orders_per_second: float, pay_after: float) -> None:
        """New purchases at a steady rate, each paid `pay_after` seconds later (real time)."""
        self._trickle_stop.clear()
        interval = 1.0 / orders_per_second

        def run() -> None:
            pending: list[tuple[float, str]] = []
            next_order = time.monotonic()
            while not self._trickle_stop.is_set():
                now = time.monotonic()
                if now >= next_order:
                    pending.append((now + pay_after, self.state.place_order(payment="ONLINE")))
                    next_order += interval
                while pending and pending[0][0] <= now:
                    self.state.pay(pending.pop(0)[1])
                wake = min([next_order, *(due for due, _ in pending[:1])])
                self._trickle_stop.wait(max(wake - time.monotonic(), 0.0))

        self._trickle = threading.Thread(target=run, name="bench-trickle", daemon=True)
        self._trickle.start()

    def trickle_stop(self) -> None:
        self._trickle_stop.set()
        if self._trickle is not None:
            self._trickle.join()

    def requests(self) -> list[tuple[float, str, int, str | None]]:
        """(monotonic, path, status, client) of every REST request since the last clear."""
        return [
            (entry.monotonic, entry.path, entry.status, entry.client_id)
            for entry in self.state.request_log
            if entry.path.startswith("/order/")
        ]

    def arrivals(self) -> list[float]:
        """When each REST request since the last clear arrived (simulator monotonic seconds)."""
        with self.state.locked():
            return list(self.state.arrivals)

    def clear_requests(self) -> None:
        with self.state.locked():
            self.state.clear_request_log()
            self.state.arrivals.clear()

    def refresh_token(self) -> str:
        return self.state.issue_refresh_token()

    def imports_expected(self) -> int:
        return sum(
            1
            for oid in self.state.order_ids()
            if self.state.ever_reached(oid, "READY_FOR_PROCESSING")
        )

    def bought_range(self) -> tuple[float, float]:
        """Wall-clock seconds of the first and the last purchase."""
        bought = self._purchases()
        return _seconds(bought[0]), _seconds(bought[-1])

    def nth_bought(self, n: int) -> float:
        """Wall-clock seconds of the n-th purchase (1-based), in purchase order."""
        bought = self._purchases()
        return _seconds(bought[min(n, len(bought)) - 1])

    def _purchases(self) -> list[str]:
        """Every order's latest `boughtAt`, sorted (one format throughout: sortable as text)."""
        forms = (self.state.find_form(oid) for oid in self.state.order_ids())
        return sorted(max(i["boughtAt"] for i in f["lineItems"]) for f in forms if f is not None)

    def stats(self) -> dict[str, int]:
        stats = self.state.stats()
        return {"orders": int(stats["orders"]), "events": int(stats["events"])}

    def peak_rss_mb(self) -> float:
        return peak_rss_mb()


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _main(conn: Connection, rate_limit_per_minute: int, seed: int) -> None:
    clock = OffsetClock()
    config = SimulatorConfig(seed=seed, rate_limit_per_minute=rate_limit_per_minute)
    state = _ArrivalsState(config, clock=clock)
    child = _Child(state, clock)
    with SimulatorServer(state) as server:
        conn.send((server.url, config.client_id, config.client_secret))
        while True:
            command, args = conn.recv()
            if command == "stop":
                child.trickle_stop()
                conn.send((True, None))
                return
            try:
                conn.send((True, getattr(child, command)(*args)))
            except Exception:
                conn.send((False, traceback.format_exc()))


def service_env(
    sim: SimProcess, bootstrap_servers: str, topics: tuple[str, str], **overrides: str
) -> dict[str, str]:
    """The service's environment against this simulator and broker, as the end-to-end tests
    set it (`tests/support/service.py`): the bench account from the journal's start, the
    idempotent producer off (the embedded broker refuses it), JSON logs; `topics` are the
    orders and dead-letter topics. `overrides` set the rest (state, rate, key)."""
    assert sim.info is not None
    prefixes = ("ALLEGRO_", "KAFKA_", "STATE_", "TOKEN_", "LOG_", "HTTP_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env.update(
        {
            "ALLEGRO_API_URL": sim.info.url,
            "ALLEGRO_AUTH_URL": f"{sim.info.url}/auth/oauth",
            "ALLEGRO_CLIENT_ID": sim.info.client_id,
            "ALLEGRO_CLIENT_SECRET": sim.info.client_secret,
            "ALLEGRO_REFRESH_TOKEN": sim.call("refresh_token"),
            "ALLEGRO_ACCOUNT": "bench",
            "ALLEGRO_START_FROM": "earliest",
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
            "KAFKA_TOPIC_ORDERS": topics[0],
            "KAFKA_TOPIC_DLQ": topics[1],
            "LOG_FORMAT": "json",
            **overrides,
        }
    )
    return env
