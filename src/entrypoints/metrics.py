"""The service's Prometheus metrics, on prometheus-client (text exposition format 0.0.4).

Conventions (docs/metrics.md lists every series): one prefix, `openoms_allegro_`; counters
end in `_total`; durations are histograms in seconds; moments are absolute
`*_timestamp_seconds` gauges (Unix time), so a dashboard computes "how long ago" with
`time() - ...` and a missed scrape does not freeze a countdown. Process metrics
(`process_*`, `python_*`) keep their standard names.

`Metrics` is the Allegro adapter's request observer (requests by endpoint and status, their
duration, rate-limiter waits and the bucket's usage), the poll loop's observer (events and
orders processed, events published by type, dead letters, failed polls, batch duration)
and the Kafka publisher's observer (publish duration). The gauges read at scrape time are
registered by `entrypoints.health`; so is the command path (`command_path`), whose series are
read from its `CommandStatus` at scrape time: the command loop keeps its own counts, so it
needs no observer of its own.

Each instance has its own registry, never prometheus-client's global one: tests build many
containers in one process, and a second registration of a name would fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from adapters.allegro.observer import RateLimitUsage
from application.command_loop import CommandStatus
from application.poll_loop import LoopObserver
from application.ports.errors import PortError
from application.sweep import SweepOutcome
from application.sync_orders import BatchOutcome
from domain.events import DomainEvent, OrderImported, OrderStatusChanged, OrderUpdated
from entrypoints.cli_support import version as package_version

# `*_created` series double the number of series and no dashboard or alert here reads them;
# prometheus-client only offers a process-wide switch, and this process exposes one registry.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

Labels = tuple[tuple[str, str], ...]
Reading = Callable[[], Iterable[tuple[Labels, float]]]

PREFIX = "openoms_allegro_"
BUILD_INFO = "openoms_allegro_build_info"
EVENTS_PROCESSED = "openoms_allegro_events_processed_total"
ORDERS_PROCESSED = "openoms_allegro_orders_processed_total"
EVENTS_PUBLISHED = "openoms_allegro_events_published_total"
DEAD_LETTERS = "openoms_allegro_dead_letters_total"
POLL_FAILURES = "openoms_allegro_poll_failures_total"
ALLEGRO_REQUESTS = "openoms_allegro_allegro_requests_total"
ALLEGRO_REQUEST_DURATION = "openoms_allegro_allegro_request_duration_seconds"
RATE_LIMIT_WAITS = "openoms_allegro_allegro_rate_limit_waits_total"
RATE_LIMIT_WAIT_SECONDS = "openoms_allegro_allegro_rate_limit_wait_seconds_total"
RATE_LIMIT_PER_MINUTE = "openoms_allegro_allegro_rate_limit_per_minute"
RATE_LIMIT_USED = "openoms_allegro_allegro_rate_limit_used_requests"
RATE_LIMIT_TOKENS = "openoms_allegro_allegro_rate_limit_tokens"
RATE_LIMIT_BLOCKED = "openoms_allegro_allegro_rate_limit_blocked_seconds"
PUBLISH_DURATION = "openoms_allegro_publish_duration_seconds"
RECORDS_SENT = "openoms_allegro_kafka_records_sent_total"
BATCH_DURATION = "openoms_allegro_batch_duration_seconds"
COMMANDS = "openoms_allegro_commands_total"
COMMAND_DEAD_LETTERS = "openoms_allegro_command_dead_letters_total"
COMMAND_CONSECUTIVE_FAILURES = "openoms_allegro_command_consecutive_failures"
COMMAND_LAG = "openoms_allegro_command_lag_records"
# The results a command ends with, as `CommandStatus` counts them. Its failures (rejected,
# conflict, invalid: docs/metrics.md) are one count there, so they are one series here.
COMMAND_RESULTS = ("succeeded", "rejected", "conflict", "invalid")

# Allegro answers in tens to hundreds of milliseconds; a request may last up to its 30 s timeout.
REQUEST_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# An acknowledged send of one batch: milliseconds on a healthy broker, seconds when it struggles.
PUBLISH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# One poll: reading the journal, the checkout forms, publishing and committing.
BATCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics(LoopObserver):
    def __init__(self, version: str | None = None) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        build = Gauge(BUILD_INFO, "The running version (value 1)", ["version"], registry=registry)
        build.labels(version=version or package_version()).set(1)

        self._requests = Counter(
            ALLEGRO_REQUESTS,
            "Allegro API requests (HTTP attempts) by endpoint and status",
            ["endpoint", "status"],
            registry=registry,
        )
        self._request_duration = Histogram(
            ALLEGRO_REQUEST_DURATION,
            "Duration of Allegro HTTP attempts, by endpoint (a path template)",
            ["endpoint"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self._waits = Counter(
            RATE_LIMIT_WAITS, "Allegro requests that waited for the rate limiter", registry=registry
        )
        self._wait_seconds = Counter(
            RATE_LIMIT_WAIT_SECONDS, "Time spent waiting for the rate limiter", registry=registry
        )
        self._events_processed = Counter(
            EVENTS_PROCESSED, "Order journal events committed", registry=registry
        )
        self._orders_processed = Counter(
            ORDERS_PROCESSED, "Checkout forms read and decided", registry=registry
        )
        self._published = Counter(
            EVENTS_PUBLISHED,
            "Domain events acknowledged by Kafka, by type",
            ["event_type"],
            registry=registry,
        )
        for event_type in (
            OrderImported.event_type,
            OrderStatusChanged.event_type,
            OrderUpdated.event_type,
        ):
            self._published.labels(event_type=event_type)  # a series from the start
        self._dead_letters = Counter(
            DEAD_LETTERS, "Inputs quarantined to the dead-letter topic", registry=registry
        )
        self._poll_failures = Counter(
            POLL_FAILURES,
            "Polls that failed (cursor held), by error class",
            ["error"],
            registry=registry,
        )
        self._publish_duration = Histogram(
            PUBLISH_DURATION,
            "Duration of one acknowledged send to Kafka (a batch of records)",
            buckets=PUBLISH_BUCKETS,
            registry=registry,
        )
        self._records_sent = Counter(
            RECORDS_SENT,
            "Records acknowledged by Kafka (events and dead letters)",
            registry=registry,
        )
        self._batch_duration = Histogram(
            BATCH_DURATION,
            "Duration of one poll of the journal, by result (committed, held, empty)",
            ["result"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        for result in ("committed", "held", "empty"):
            self._batch_duration.labels(result=result)
        self._rate_limit: Callable[[], RateLimitUsage] | None = None
        self._lock = threading.Lock()
        self._rate_limit_gauges()

    def gauge(self, name: str, help_text: str, read: Reading) -> None:
        """A gauge read at scrape time; `read` leaves out a value that is unknown."""
        self.registry.register(_Reading(name, help_text, "gauge", read))

    def counter(self, name: str, help_text: str, read: Reading) -> None:
        """A counter kept elsewhere (`name` ends in _total), read at scrape time."""
        self.registry.register(_Reading(name, help_text, "counter", read))

    def command_path(
        self, status: CommandStatus, account: str, applying: Callable[[], bool]
    ) -> None:
        """The command path's series, read from `status` at scrape time. Labels are bounded:
        the one account and the results of `COMMAND_RESULTS`. `applying`: whether this
        replica runs the command path now (the poller); a standby applies nothing, and a
        streak left from its last term would be stale, so it leaves the gauge out."""

        def labelled(value: float, **extra: str) -> tuple[Labels, float]:
            return (("account", account), *extra.items()), value

        def results() -> list[tuple[Labels, float]]:
            counts = {**status.failed_by_reason, "succeeded": status.succeeded}
            return [
                labelled(float(counts.get(result, 0)), result=result) for result in COMMAND_RESULTS
            ]

        def streak() -> list[tuple[Labels, float]]:
            return [labelled(float(status.consecutive_failures))] if applying() else []

        def lag() -> list[tuple[Labels, float]]:
            known = applying() and status.lag is not None
            return [labelled(float(status.lag or 0))] if known else []

        self.counter(
            COMMANDS,
            "OpenOMS commands answered with a result, by result (succeeded, rejected, conflict, "
            "invalid)",
            results,
        )
        self.counter(
            COMMAND_DEAD_LETTERS,
            "Records of the command topic that were not commands, sent to the dead-letter topic",
            lambda: [labelled(float(status.rejected_records))],
        )
        self.gauge(
            COMMAND_LAG,
            "Commands on the topic not yet delivered to this replica (the consumer's lag)",
            lag,
        )
        self.gauge(
            COMMAND_CONSECUTIVE_FAILURES,
            "Rounds of the command path that failed in a row (a command held, 0: none)",
            streak,
        )

    def value(self, name: str, **labels: str) -> float:
        """One sample's current value (0 when the series has no sample yet)."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

    def render(self) -> str:
        return generate_latest(self.registry).decode("utf-8")

    # RequestObserver (adapters.allegro)
    def request(self, endpoint: str, status: int | str, seconds: float) -> None:
        self._requests.labels(endpoint=endpoint, status=str(status)).inc()
        self._request_duration.labels(endpoint=endpoint).observe(max(seconds, 0.0))

    def rate_limit_wait(self, seconds: float) -> None:
        self._waits.inc()
        self._wait_seconds.inc(max(seconds, 0.0))

    def rate_limiter(self, usage: Callable[[], RateLimitUsage]) -> None:
        """The bucket of the current Allegro client; a new term's client replaces it."""
        with self._lock:
            self._rate_limit = usage

    # PublishObserver (adapters.kafka)
    def publish_done(self, seconds: float, records: int) -> None:
        self._publish_duration.observe(max(seconds, 0.0))
        self._records_sent.inc(records)

    # LoopObserver (application.poll_loop)
    def batch_done(self, outcome: BatchOutcome, seconds: float) -> None:
        if outcome.committed:
            self._events_processed.inc(outcome.events_read)
            self._orders_processed.inc(outcome.orders_read)
        result = "committed" if outcome.committed else "held" if outcome.events_read else "empty"
        self._batch_duration.labels(result=result).observe(max(seconds, 0.0))
        self._count_published(outcome.published, len(outcome.dead_letters))

    def sweep_done(self, outcome: SweepOutcome) -> None:
        self._orders_processed.inc(outcome.seen)
        for event_type, count in outcome.published_by_type.items():
            self._published.labels(event_type=event_type).inc(count)
        if outcome.dead_letters:
            self._dead_letters.inc(len(outcome.dead_letters))

    def poll_failed(self, error: PortError) -> None:
        self._poll_failures.labels(error=type(error).__name__).inc()

    def _count_published(self, events: Iterable[DomainEvent], dead_letters: int) -> None:
        for event in events:
            self._published.labels(event_type=event.event_type).inc()
        if dead_letters:
            self._dead_letters.inc(dead_letters)

    def _rate_limit_gauges(self) -> None:
        def read(field: Callable[[RateLimitUsage], float]) -> Reading:
            def sample() -> list[tuple[Labels, float]]:
                with self._lock:
                    usage = self._rate_limit
                return [] if usage is None else [((), float(field(usage())))]

            return sample

        self.gauge(
            RATE_LIMIT_PER_MINUTE,
            "The Allegro request budget per minute (ALLEGRO_RATE_LIMIT_PER_MINUTE)",
            read(lambda usage: usage.per_minute),
        )
        self.gauge(
            RATE_LIMIT_USED,
            "Allegro requests sent in the rate limiter's trailing minute",
            read(lambda usage: usage.used),
        )
        self.gauge(
            RATE_LIMIT_TOKENS,
            "Requests the rate limiter would let through at once",
            read(lambda usage: usage.tokens),
        )
        self.gauge(
            RATE_LIMIT_BLOCKED,
            "Seconds left of a block after Allegro answered 429 (0: not blocked)",
            read(lambda usage: usage.blocked_seconds),
        )


class _Reading:
    """A family whose samples are read at scrape time from what the service holds."""

    def __init__(
        self, name: str, help_text: str, kind: Literal["gauge", "counter"], read: Reading
    ) -> None:
        if not name.startswith(PREFIX):
            raise ValueError(f"metric {name!r} does not start with {PREFIX!r}")
        self._name, self._help, self._kind, self._read = name, help_text, kind, read

    def describe(self) -> Iterable[Metric]:
        return [self._family([])]

    def collect(self) -> Iterator[Metric]:
        yield self._family(list(self._read()))

    def _family(self, samples: list[tuple[Labels, float]]) -> Metric:
        names = [key for key, _ in samples[0][0]] if samples else []
        family: GaugeMetricFamily | CounterMetricFamily
        if self._kind == "counter":
            family = CounterMetricFamily(self._name, self._help, labels=names)
        else:
            family = GaugeMetricFamily(self._name, self._help, labels=names)
        for labels, value in samples:
            family.add_metric([v for _, v in labels], value)
        return family
