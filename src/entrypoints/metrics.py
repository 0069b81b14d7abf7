"""A small Prometheus registry (text exposition format 0.0.4), no extra dependency.

It is also the Allegro adapter's request observer: requests by endpoint and status,
and the time spent waiting for the rate limiter.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

Labels = tuple[tuple[str, str], ...]


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._help: dict[str, tuple[str, str]] = {}
        self._gauges: dict[str, Callable[[], Iterable[tuple[Labels, float]]]] = {}
        self.describe("allegro_requests_total", "counter", "Allegro API requests by outcome")
        self.describe("allegro_request_seconds_total", "counter", "Time spent in Allegro calls")
        self.describe("allegro_rate_limit_wait_seconds_total", "counter", "Rate-limiter waits")
        self.describe("allegro_rate_limit_waits_total", "counter", "Requests that had to wait")

    def describe(self, name: str, kind: str, help_text: str) -> None:
        self._help[name] = (kind, help_text)

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

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            series = {name: dict(values) for name, values in self._counters.items()}
        for name, read in self._gauges.items():
            series[name] = dict(read())
        for name in sorted(series):
            kind, help_text = self._help.get(name, ("untyped", name))
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in sorted(series[name].items()):
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
