"""Shared pieces of the fault tests: a paced order stream, an instrumented simulator, the
service's environment and a Kafka view of the topics."""

from __future__ import annotations

import contextlib
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
from application.ports.publisher import COMMAND_RESULTS
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from sandbox.allegro.faults import Verdict
from sandbox.allegro.lifecycles import Interleaver
from tests.support.failpoints import CRASH_AFTER_PUBLISH, CRASH_BEFORE_PUBLISH
from tests.support.process import (
    CLI,
    FAILPOINT_CLI,
    KILLED,
    POLL_SECONDS,
    ServiceProcess,
    WaitTimeout,
    wait_until,
)
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


@dataclass(frozen=True, slots=True)
class CommandCrashPlan:
    """How a command-path crash run kills the service: by a failpoint on the sends that hold
    command results (before / after the results are published, with `probability` per send),
    or by the test: at a random moment of start-up, or just after `applying` says the run is
    applying something."""

    probability: float
    start_up_after: tuple[float, float]
    applying_after: tuple[float, float]
    applying: Callable[[ServiceProcess], bool]
    applying_what: str
    max_run: float = 40.0
    applying_poll: float = POLL_SECONDS  # how often `applying` is asked


def command_crash_run(
    env: dict[str, str], rng: random.Random, kind: str, kills: Kills, plan: CommandCrashPlan
) -> None:
    """One run of the service, which dies by its failpoint (`kind` is one) or is SIGKILLed by
    the test (`start-up`, `applying`): the kill is counted in `kills`, and a run that ends by
    itself fails the test."""
    if kind in (CRASH_BEFORE_PUBLISH, CRASH_AFTER_PUBLISH):
        run_env = {
            **env,
            "OPENOMS_FAILPOINTS": f"{kind}:{plan.probability}",
            # only a send holding a command result: the import's and the offer events'
            # sends pass untouched
            "OPENOMS_FAILPOINT_CHANNELS": COMMAND_RESULTS,
        }
        module = FAILPOINT_CLI
    else:
        run_env, module = env, CLI
    kills.runs += 1
    with ServiceProcess(run_env, "run", module=module) as service:
        if kind == "start-up":
            ended = service.exits_within(rng.uniform(*plan.start_up_after))
        elif kind == "applying":
            with contextlib.suppress(WaitTimeout):  # nothing left to apply: killed idle
                service.wait_for(
                    lambda: plan.applying(service),
                    within=plan.max_run,
                    what=plan.applying_what,
                    poll=plan.applying_poll,
                )
            ended = service.exits_within(rng.uniform(*plan.applying_after))
        else:
            ended = service.exits_within(plan.max_run)
        if ended:
            crashed_on_purpose = (
                service.returncode == KILLED and service.count(f"failpoint {kind}: SIGKILL") == 1
            )
            assert crashed_on_purpose, (
                f"the service ended by itself ({service.returncode}):\n{service.stderr_tail()}"
            )
            kills.by[kind] += 1
            kills.log.append("B" if kind == CRASH_BEFORE_PUBLISH else "A")
        else:
            assert service.kill() == KILLED
            kills.by["test"] += 1
            kills.log.append("S" if kind == "start-up" else "T")
