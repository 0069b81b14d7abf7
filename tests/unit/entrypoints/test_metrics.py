"""The Prometheus registry as the poll loop's, the Allegro adapter's and the publisher's
observer, read back with prometheus-client's parser as a scraper would."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.allegro.rate_limit import WINDOW_SECONDS, TokenBucket
from application.poll_loop import Backoff, PollLoop
from application.ports import AllegroRejected, PublishError
from application.sweep import SweepOutcome
from application.sync_orders import BatchOutcome, SyncSettings
from domain.policy import ImportPolicy
from entrypoints.assembly import order_import
from entrypoints.cli_support import version
from entrypoints.metrics import BATCH_BUCKETS, REQUEST_BUCKETS, Metrics
from tests.support.builders import (
    make_dead_letter,
    make_order_imported,
    make_order_snapshot,
    make_order_status_changed,
)
from tests.support.fakes import FakeAllegro, FakeClock, InMemoryEventPublisher, MemoryStateStore
from tests.unit.entrypoints.prometheus_text import parse_metrics
from tests.unit.kafka.builders import make_order_updated

IMPORTED = 'openoms_allegro_events_published_total{event_type="OrderImported"}'
CHANGED = 'openoms_allegro_events_published_total{event_type="OrderStatusChanged"}'
UPDATED = 'openoms_allegro_events_published_total{event_type="OrderUpdated"}'
REQUESTS = "openoms_allegro_allegro_requests_total"
DURATION = "openoms_allegro_allegro_request_duration_seconds"


def ours(samples: dict[str, float]) -> dict[str, float]:
    """The service's own series (process and Python metrics left out)."""
    return {name: value for name, value in samples.items() if name.startswith("openoms_allegro_")}


def test_every_counter_is_exposed_from_the_start():
    samples = ours(parse_metrics(Metrics(version="9.9.9").render()))

    counters = {n: v for n, v in samples.items() if n.split("{")[0].endswith("_total")}
    assert counters == {
        "openoms_allegro_allegro_rate_limit_wait_seconds_total": 0,
        "openoms_allegro_allegro_rate_limit_waits_total": 0,
        "openoms_allegro_dead_letters_total": 0,
        "openoms_allegro_events_processed_total": 0,
        "openoms_allegro_orders_processed_total": 0,
        "openoms_allegro_kafka_records_sent_total": 0,
        IMPORTED: 0,
        CHANGED: 0,
        UPDATED: 0,
    }
    assert samples['openoms_allegro_build_info{version="9.9.9"}'] == 1


def test_the_exposition_parses_with_conventional_names_types_and_process_metrics():
    text = Metrics().render()

    families = {family.name: family for family in text_string_to_metric_families(text)}

    assert families["openoms_allegro_build_info"].type == "gauge"
    assert families["openoms_allegro_build_info"].samples[0].labels == {"version": version()}
    assert families["openoms_allegro_events_processed"].type == "counter"
    assert families[DURATION].type == "histogram"
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "python_info"} <= set(families)
    for name, family in families.items():
        assert name.startswith(("openoms_allegro_", "process_", "python_")), name
        for sample in family.samples:
            assert not sample.name.endswith("_created"), sample.name
            if family.type == "counter":
                assert sample.name.endswith("_total"), sample.name


def test_each_instance_has_its_own_registry():
    first, second = Metrics(), Metrics()  # the global registry would refuse the second

    first.poll_failed(PublishError("broker down"))

    assert first.value("openoms_allegro_poll_failures_total", error="PublishError") == 1
    assert second.value("openoms_allegro_poll_failures_total", error="PublishError") == 0


def test_a_committed_batch_counts_events_orders_publications_and_dead_letters():
    metrics = Metrics()
    outcome = BatchOutcome(
        events_read=7,
        orders_read=3,
        published=[
            make_order_imported(),
            make_order_imported(),
            make_order_status_changed(),
            make_order_updated(),
        ],
        dead_letters=[make_dead_letter()],
    )

    metrics.batch_done(outcome, 0.4)

    samples = parse_metrics(metrics.render())
    assert samples["openoms_allegro_events_processed_total"] == 7
    assert samples["openoms_allegro_orders_processed_total"] == 3
    assert (samples[IMPORTED], samples[CHANGED], samples[UPDATED]) == (2, 1, 1)
    assert samples["openoms_allegro_dead_letters_total"] == 1
    batch = 'openoms_allegro_batch_duration_seconds_{}{{result="committed"}}'
    assert samples[batch.format("count")] == 1
    assert samples[batch.format("sum")] == 0.4


def test_batch_durations_are_told_apart_by_result():
    metrics = Metrics()
    durations = {"committed": [0.3, 2.0, 70.0], "held": [1.0], "empty": [0.02, 0.06]}
    outcomes = {
        "committed": BatchOutcome(events_read=2, orders_read=1),
        "held": BatchOutcome(events_read=2, orders_read=1, retry_pending=["cf-1"]),
        "empty": BatchOutcome(),
    }

    for result, seconds in durations.items():
        for one in seconds:
            metrics.batch_done(outcomes[result], one)

    samples = parse_metrics(metrics.render())
    for result, seconds in durations.items():
        for bound in BATCH_BUCKETS:
            key = f'openoms_allegro_batch_duration_seconds_bucket{{le="{bound}",result="{result}"}}'
            assert samples[key] == sum(1 for one in seconds if one <= bound), key
        total = f'openoms_allegro_batch_duration_seconds_count{{result="{result}"}}'
        assert samples[total] == len(seconds)


def test_a_batch_held_for_retry_processed_nothing():
    metrics = Metrics()

    metrics.batch_done(BatchOutcome(events_read=5, orders_read=2, retry_pending=["cf-1"]), 0.1)

    assert metrics.value("openoms_allegro_events_processed_total") == 0
    assert metrics.value("openoms_allegro_orders_processed_total") == 0


def test_sweeps_count_orders_and_publications():
    metrics = Metrics()

    metrics.sweep_done(SweepOutcome(seen=40, published_by_type=Counter(OrderImported=1)))

    assert metrics.value("openoms_allegro_orders_processed_total") == 40
    assert metrics.value("openoms_allegro_events_published_total", event_type="OrderImported") == 1


def test_requests_and_failures_carry_their_labels_and_durations():
    metrics = Metrics()
    observed = [0.04, 0.25, 0.3, 1.7]
    for seconds in observed:
        metrics.request("/order/events", 200, seconds)
    metrics.request("/order/checkout-forms/{id}", 429, 0.1)
    metrics.request("/order/events", "timeout", 30)
    metrics.rate_limit_wait(1.5)
    metrics.poll_failed(PublishError("broker down"))

    samples = parse_metrics(metrics.render())

    assert samples[f'{REQUESTS}{{endpoint="/order/events",status="200"}}'] == len(observed)
    assert samples[f'{REQUESTS}{{endpoint="/order/checkout-forms/{{id}}",status="429"}}'] == 1
    assert samples[f'{REQUESTS}{{endpoint="/order/events",status="timeout"}}'] == 1
    everything = [*observed, 30]
    for bound in REQUEST_BUCKETS:
        key = f'{DURATION}_bucket{{endpoint="/order/events",le="{bound}"}}'
        assert samples[key] == sum(1 for seconds in everything if seconds <= bound), key
    assert samples[f'{DURATION}_bucket{{endpoint="/order/events",le="+Inf"}}'] == len(everything)
    assert samples[f'{DURATION}_sum{{endpoint="/order/events"}}'] == pytest.approx(sum(everything))
    assert samples["openoms_allegro_allegro_rate_limit_wait_seconds_total"] == 1.5
    assert samples["openoms_allegro_allegro_rate_limit_waits_total"] == 1
    assert samples['openoms_allegro_poll_failures_total{error="PublishError"}'] == 1


def test_publications_are_timed_and_their_records_counted():
    metrics = Metrics()
    sends = [(0.012, 3), (0.4, 1)]

    for seconds, records in sends:
        metrics.publish_done(seconds, records)

    samples = parse_metrics(metrics.render())
    assert samples["openoms_allegro_publish_duration_seconds_count"] == len(sends)
    assert samples["openoms_allegro_publish_duration_seconds_sum"] == pytest.approx(0.412)
    assert samples['openoms_allegro_publish_duration_seconds_bucket{le="0.025"}'] == 1
    assert samples["openoms_allegro_kafka_records_sent_total"] == 4


class Ticks:
    def __init__(self) -> None:
        self.now = 500.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_the_rate_limit_gauges_read_the_current_bucket():
    metrics, ticks = Metrics(), Ticks()
    assert "openoms_allegro_allegro_rate_limit_per_minute" not in parse_metrics(metrics.render())
    bucket = TokenBucket(
        120, 5, monotonic=ticks.monotonic, sleep=ticks.sleep, observer=metrics
    )  # 2 tokens a second

    for _ in range(3):
        await bucket.acquire()
    ticks.now += 0.5  # one token back
    bucket.block_for(20)

    samples = parse_metrics(metrics.render())
    assert samples["openoms_allegro_allegro_rate_limit_per_minute"] == 120
    assert samples["openoms_allegro_allegro_rate_limit_used_requests"] == 3
    assert samples["openoms_allegro_allegro_rate_limit_tokens"] == 5 - 3 + 1
    assert samples["openoms_allegro_allegro_rate_limit_blocked_seconds"] == 20

    ticks.now += WINDOW_SECONDS
    samples = parse_metrics(metrics.render())
    assert samples["openoms_allegro_allegro_rate_limit_used_requests"] == 0
    assert samples["openoms_allegro_allegro_rate_limit_tokens"] == 5
    assert samples["openoms_allegro_allegro_rate_limit_blocked_seconds"] == 0


def test_label_values_are_escaped():
    metrics = Metrics()
    metrics.request('/a"b\\c', 200, 0.1)

    assert 'endpoint="/a\\"b\\\\c"' in metrics.render()
    assert (
        parse_metrics(metrics.render())[f'{REQUESTS}{{endpoint="/a\\"b\\\\c",status="200"}}'] == 1
    )


def test_gauges_render_what_they_read_and_skip_what_is_unknown():
    metrics = Metrics()
    metrics.gauge("openoms_allegro_known", "a known value", lambda: [((), 2.5)])
    metrics.gauge("openoms_allegro_unknown", "nothing to report", list)
    metrics.gauge(
        "openoms_allegro_labelled",
        "by label",
        lambda: [((("kind", "a"),), 1), ((("kind", "b"),), 0)],
    )

    text = metrics.render()

    samples = parse_metrics(text)
    assert samples["openoms_allegro_known"] == 2.5
    assert (
        samples['openoms_allegro_labelled{kind="a"}'],
        samples['openoms_allegro_labelled{kind="b"}'],
    ) == (1, 0)
    assert "openoms_allegro_unknown" not in samples
    assert "# TYPE openoms_allegro_unknown gauge\n" in text


def test_a_gauge_without_the_prefix_is_refused():
    with pytest.raises(ValueError, match="openoms_allegro_"):
        Metrics().gauge("lag_seconds", "unprefixed", list)


def make_loop(
    allegro: FakeAllegro, state: MemoryStateStore, metrics: Metrics, clock: FakeClock
) -> PollLoop:
    sync = order_import(
        allegro,
        allegro,
        InMemoryEventPublisher(),
        state,
        ImportPolicy(account="a"),
        SyncSettings(account="a", start_from="earliest"),
        clock,
    ).sync
    return PollLoop(
        sync,
        clock,
        idle_seconds=15,
        backoff=Backoff(jitter=lambda: 1.0),
        observer=metrics,
        error_log=state,
    )


async def test_the_poll_loop_reports_batches_and_keeps_its_last_error_durably():
    allegro, state, metrics, clock = FakeAllegro(), MemoryStateStore(), Metrics(), FakeClock()
    allegro.emit("READY_FOR_PROCESSING", make_order_snapshot(id="cf-1"))
    loop = make_loop(allegro, state, metrics, clock)
    allegro.fail_reads = AllegroRejected("HTTP 403 (forbidden)", 403)

    await loop.step()
    allegro.fail_reads = None
    await loop.step()

    assert metrics.value("openoms_allegro_poll_failures_total", error="AllegroRejected") == 1
    assert metrics.value("openoms_allegro_events_published_total", event_type="OrderImported") == 1
    assert metrics.value("openoms_allegro_events_processed_total") == 1
    recorded = state.poll_errors["a"]
    assert recorded.message == "AllegroRejected: HTTP 403 (forbidden)"
    assert recorded.occurred_at == clock.now()


async def test_a_poll_error_that_cannot_be_recorded_does_not_stop_the_loop():
    allegro, state, metrics, clock = FakeAllegro(), MemoryStateStore(), Metrics(), FakeClock()
    allegro.emit("READY_FOR_PROCESSING", make_order_snapshot(id="cf-1"))
    allegro.fail_reads = AllegroRejected("HTTP 403", 403)

    async def unrecordable(*_: object) -> None:
        raise PublishError("the store is down too")

    state.record_poll_error = unrecordable  # type: ignore[method-assign]
    loop = make_loop(allegro, state, metrics, clock)

    assert await loop.step() == 1.0
    assert loop.status.consecutive_failures == 1


async def test_errors_named_in_stop_on_end_the_run_instead_of_a_backoff():
    class Fenced(PublishError):
        pass

    allegro = FakeAllegro()
    allegro.emit("READY_FOR_PROCESSING", make_order_snapshot(id="cf-1"))
    allegro.fail_reads = Fenced("lease lost")
    sync = order_import(
        allegro,
        allegro,
        InMemoryEventPublisher(),
        MemoryStateStore(),
        ImportPolicy(account="a"),
        SyncSettings(account="a", start_from="earliest"),
        FakeClock(),
    ).sync
    loop = PollLoop(sync, FakeClock(), idle_seconds=15, stop_on=(Fenced,))

    try:
        await asyncio.wait_for(loop.run(asyncio.Event()), timeout=5)
    except Fenced:
        pass
    else:
        raise AssertionError("the loop kept running after a stop_on error")
    assert loop.status.consecutive_failures == 0
