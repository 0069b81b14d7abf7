"""Shared pieces of the fault tests: a paced order stream, an instrumented simulator, the
service's environment and a Kafka view of the topics."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from sandbox.allegro.faults import Verdict
from sandbox.allegro.lifecycles import Interleaver
from tests.support.process import wait_until
from tests.support.service import service_env

ACCOUNT = "e2e"  # what `service_env` configures
# The simulator's own per-client limit must never be what slows a test down.
GENEROUS_SIMULATOR_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class Arrival:
    """A REST request as the simulated Allegro edge saw it arrive, and what it decided."""

    monotonic: float
    client_id: str | None
    verdict: Verdict


class InstrumentedState(SimulatorState):
    """The simulator, plus two test hooks on its public surface:

    - `arrivals`: when each REST request *arrived* (the request log stamps completion,
      which a slow or hanging answer pushes later than the client's send);
    - `poison`: checkout forms served altered (the simulator has no way to store a form
      the wire schema or the mapping rejects).
    """

    def __init__(self, cfg: SimulatorConfig | None = None) -> None:
        super().__init__(cfg)
        self.arrivals: list[Arrival] = []
        self.poison: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}

    def gate(self, client_id: str | None) -> Verdict:
        now = self.clock.monotonic()
        verdict = super().gate(client_id)
        with self.locked():
            self.arrivals.append(Arrival(now, client_id, verdict))
        return verdict

    def find_form(self, order_id: str) -> dict[str, Any] | None:
        form = super().find_form(order_id)
        return None if form is None else self._altered(form)

    def list_forms(self, query: Any) -> tuple[list[dict[str, Any]], int]:
        forms, total = super().list_forms(query)
        return [self._altered(form) for form in forms], total

    def _altered(self, form: dict[str, Any]) -> dict[str, Any]:
        alter = self.poison.get(form["id"])
        return form if alter is None else alter(_copy(form))

    def arrivals_snapshot(self) -> list[Arrival]:
        with self.locked():
            return list(self.arrivals)


def _copy(form: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(form))
    return copied


class OrderStream:
    """Realistic lifecycles (the simulator's own script), advanced one step at a time from a
    background thread, so new journal events keep arriving while the service runs.

    It starts `orders` lifecycles, or, with `orders=None`, keeps starting new ones until
    `wind_down()`; then it completes those under way and sets `finished`.
    """

    def __init__(
        self,
        state: SimulatorState,
        *,
        orders: int | None,
        seed: int,
        step_seconds: float,
        window: int = 32,
    ) -> None:
        self._state = state
        self._orders = orders
        self._runner = Interleaver(state, random.Random(seed))
        self._step_seconds = step_seconds
        self._window = window
        self._winding_down = threading.Event()
        self._stop = threading.Event()
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.started = 0
        self._thread = threading.Thread(target=self._run, name="order-stream", daemon=True)

    def start(self) -> OrderStream:
        self._thread.start()
        return self

    def _more(self) -> bool:
        if self._orders is not None:
            return self.started < self._orders
        return not self._winding_down.is_set()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._more() and self._runner.active < self._window:
                    self._runner.start()
                    self.started += 1
                elif self._runner.active:
                    self._runner.step()
                elif not self._more():
                    self.finished.set()
                    return
                self._stop.wait(self._step_seconds)  # pacing, not waiting for anything
        except BaseException as exc:  # reported by wait_finished
            self.error = exc

    def wind_down(self) -> None:
        self._winding_down.set()

    def wait_finished(self, within: float) -> None:
        wait_until(
            lambda: self.finished.is_set() or self.error is not None,
            within=within,
            what="the order stream to finish",
        )
        if self.error is not None:
            raise AssertionError(f"the order stream failed: {self.error!r}") from self.error

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def env_for(
    server: SimulatorServer,
    state: SimulatorState,
    kafka: KafkaConfig,
    state_db: Path,
    **overrides: str,
) -> dict[str, str]:
    """`service_env` with what every fault test wants: quick polls, JSON logs, no HTTP."""
    defaults = {"POLL_INTERVAL_SECONDS": "0.2", "LOG_LEVEL": "INFO"}
    return service_env(
        server.url,
        state.config,
        state.initial_refresh_token,
        kafka,
        state_db,
        **{**defaults, **overrides},
    )


def sliding_window_max(times: list[float], window: float) -> int:
    """The largest number of `times` inside any closed window of `window` seconds."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while ordered[start] < t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def elapsed_since(started: float) -> float:
    return round(time.monotonic() - started, 1)


@dataclass(slots=True)
class Kills:
    """The kills of a crash test, by kind (a failpoint's name, or `test` for a SIGKILL the
    test sent): enough once `least_total` in all and `least_by` of each kind."""

    least_total: int
    least_by: Mapping[str, int]
    by: Counter[str] = field(default_factory=Counter)
    runs: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by.values())

    def enough(self) -> bool:
        return self.total >= self.least_total and all(
            self.by[kind] >= least for kind, least in self.least_by.items()
        )

    def describe(self) -> str:
        return ", ".join(f"{self.by[kind]} {kind}" for kind in self.least_by)
