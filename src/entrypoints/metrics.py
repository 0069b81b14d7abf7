"""A small Prometheus registry (text exposition format 0.0.4), no extra dependency.

It is also the Allegro adapter's request observer (requests by endpoint and status, time
spent waiting for the rate limiter) and the poll loop's observer (events and orders
processed, events published by type, dead letters, failed polls). Gauges are registered
by `entrypoints.health`.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

from application.poll_loop import LoopObserver
from application.ports.errors import PortError
from application.sweep import SweepOutcome
from application.sync_orders import BatchOutcome
from domain.events import DomainEvent, OrderImported, OrderStatusChanged

Labels = tuple[tuple[str, str], ...]

EVENTS_PROCESSED = "openoms_allegro_events_processed_total"
ORDERS_PROCESSED = "openoms_allegro_orders_processed_total"
EVENTS_PUBLISHED = "openoms_allegro_events_published_total"
DEAD_LETTERS = "openoms_allegro_dead_letters_total"
POLL_FAILURES = "openoms_allegro_poll_failures_total"


class Metrics(LoopObserver):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._help: dict[str, tuple[str, str]] = {}
        self._gauges: dict[str, Callable[[], Iterable[tuple[Labels, float]]]] = {}
        self._labelled: set[str] = set()
        self.describe(
            "allegro_requests_total", "counter", "Allegro API requests by endpoint and status", True
        )
        self.describe(
            "allegro_request_seconds_total", "counter", "Time spent in Allegro calls", True
        )
        self.describe("allegro_rate_limit_wait_seconds_total", "counter", "Rate-limiter waits")
        self.describe("allegro_rate_limit_waits_total", "counter", "Requests that had to wait")
        self.describe(EVENTS_PROCESSED, "counter", "Order journal events committed")
        self.describe(ORDERS_PROCESSED, "counter", "Checkout forms read and decided")
        self.describe(
            EVENTS_PUBLISHED, "counter", "Domain events acknowledged by Kafka, by type", True
        )
        self.describe(DEAD_LETTERS, "counter", "Inputs quarantined to the dead-letter topic")
        self.describe(POLL_FAILURES, "counter", "Polls that failed (cursor held), by error", True)
        for event_type in (OrderImported.event_type, OrderStatusChanged.event_type):
            self.inc(EVENTS_PUBLISHED, 0, event_type=event_type)  # a series from the start

    def describe(self, name: str, kind: str, help_text: str, labelled: bool = False) -> None:
        """`labelled`: every sample carries labels, so there is no zero sample to show."""
        self._help[name] = (kind, help_text)
        if labelled:
            self._labelled.add(name)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._counters[name][key] += value

    def gauge(
        self, name: str, help_text: str, read: Callable[[], Iterable[tuple[Labels, float]]]
    ) -> None:
        self.describe(name, "gauge", help_text)
        self._gauges[name] = read

    def value(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._counters[name].get(tuple(sorted(labels.items())), 0.0)

    # RequestObserver (adapters.allegro)
    def request(self, endpoint: str, status: int | str, seconds: float) -> None:
        self.inc("allegro_requests_total", endpoint=endpoint, status=str(status))
        self.inc("allegro_request_seconds_total", seconds, endpoint=endpoint)

    def rate_limit_wait(self, seconds: float) -> None:
        self.inc("allegro_rate_limit_waits_total")
        self.inc("allegro_rate_limit_wait_seconds_total", seconds)

    # LoopObserver (application.poll_loop)
    def batch_done(self, outcome: BatchOutcome) -> None:
        if outcome.committed:
            self.inc(EVENTS_PROCESSED, outcome.events_read)
            self.inc(ORDERS_PROCESSED, outcome.orders_read)
        self._published(outcome.published, len(outcome.dead_letters))

    def sweep_done(self, outcome: SweepOutcome) -> None:
        self.inc(ORDERS_PROCESSED, outcome.seen)
        for event_type, count in outcome.published_by_type.items():
            self.inc(EVENTS_PUBLISHED, count, event_type=event_type)
        if outcome.dead_letters:
            self.inc(DEAD_LETTERS, len(outcome.dead_letters))

    def poll_failed(self, error: PortError) -> None:
        self.inc(POLL_FAILURES, error=type(error).__name__)

    def _published(self, events: Iterable[DomainEvent], dead_letters: int) -> None:
        for event in events:
            self.inc(EVENTS_PUBLISHED, event_type=event.event_type)
        if dead_letters:
            self.inc(DEAD_LETTERS, dead_letters)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            series = {name: dict(values) for name, values in self._counters.items()}
        for name, read in self._gauges.items():
            series[name] = dict(read())
        for name in sorted(set(series) | set(self._help)):
            kind, help_text = self._help.get(name, ("untyped", name))
            samples = series.get(name, {})
            if not samples and kind == "counter" and name not in self._labelled:
                samples = {(): 0.0}  # an unlabelled counter exists from the start
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in sorted(samples.items()):
                lines.append(f"{name}{_labels(labels)} {_number(value)}")
        return "\n".join(lines) + "\n"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
