"""The Prometheus registry as the poll loop's observer, and its text format."""

from __future__ import annotations

import asyncio
from collections import Counter

from application.poll_loop import Backoff, PollLoop
from application.ports import AllegroRejected, PublishError
from application.sweep import SweepOutcome
from application.sync_orders import BatchOutcome, SyncOrders, SyncSettings
from domain.policy import ImportPolicy
from entrypoints.metrics import Metrics
from tests.support.builders import (
    make_dead_letter,
    make_order_imported,
    make_order_snapshot,
    make_order_status_changed,
)
from tests.support.fakes import FakeAllegro, FakeClock, FakePublisher, FakeStateStore
from tests.unit.entrypoints.prometheus_text import parse_metrics

IMPORTED = 'openoms_allegro_events_published_total{event_type="OrderImported"}'
CHANGED = 'openoms_allegro_events_published_total{event_type="OrderStatusChanged"}'


def test_every_counter_is_exposed_from_the_start():
    samples = parse_metrics(Metrics().render())

    assert samples == {
        "allegro_rate_limit_wait_seconds_total": 0,
        "allegro_rate_limit_waits_total": 0,
        "openoms_allegro_dead_letters_total": 0,
        "openoms_allegro_events_processed_total": 0,
        "openoms_allegro_orders_processed_total": 0,
        IMPORTED: 0,
        CHANGED: 0,
    }


def test_a_committed_batch_counts_events_orders_publications_and_dead_letters():
    metrics = Metrics()
    outcome = BatchOutcome(
        events_read=7,
        orders_read=3,
        published=[make_order_imported(), make_order_imported(), make_order_status_changed()],
        dead_letters=[make_dead_letter()],
    )

    metrics.batch_done(outcome)

    samples = parse_metrics(metrics.render())
    assert samples["openoms_allegro_events_processed_total"] == 7
    assert samples["openoms_allegro_orders_processed_total"] == 3
    assert (samples[IMPORTED], samples[CHANGED]) == (2, 1)
    assert samples["openoms_allegro_dead_letters_total"] == 1


def test_a_batch_held_for_retry_processed_nothing():
    metrics = Metrics()

    metrics.batch_done(BatchOutcome(events_read=5, orders_read=2, retry_pending=["cf-1"]))

    assert metrics.value("openoms_allegro_events_processed_total") == 0
    assert metrics.value("openoms_allegro_orders_processed_total") == 0


def test_sweeps_count_orders_and_publications():
    metrics = Metrics()

    metrics.sweep_done(SweepOutcome(seen=40, published_by_type=Counter(OrderImported=1)))

    assert metrics.value("openoms_allegro_orders_processed_total") == 40
    assert metrics.value("openoms_allegro_events_published_total", event_type="OrderImported") == 1


def test_requests_and_failures_carry_their_labels():
    metrics = Metrics()
    metrics.request("/order/checkout-forms/{id}", 200, 0.25)
    metrics.request("/order/events", "timeout", 30)
    metrics.rate_limit_wait(1.5)
    metrics.poll_failed(PublishError("broker down"))

    samples = parse_metrics(metrics.render())

    checkout_form = 'allegro_requests_total{endpoint="/order/checkout-forms/{id}",status="200"}'
    assert samples[checkout_form] == 1
    assert samples['allegro_requests_total{endpoint="/order/events",status="timeout"}'] == 1
    assert samples["allegro_rate_limit_wait_seconds_total"] == 1.5
    assert samples['openoms_allegro_poll_failures_total{error="PublishError"}'] == 1


def test_label_values_are_escaped():
    metrics = Metrics()
    metrics.request('/a"b\\c', 200, 0.1)

    assert 'endpoint="/a\\"b\\\\c"' in metrics.render()


def test_gauges_render_what_they_read_and_skip_what_is_unknown():
    metrics = Metrics()
    metrics.gauge("known", "a known value", lambda: [((), 2.5)])
    metrics.gauge("unknown", "nothing to report", list)

    text = metrics.render()

    samples = parse_metrics(text)
    assert samples["known"] == 2.5
    assert "unknown" not in samples
    assert "# TYPE unknown gauge\n" in text


def make_loop(
    allegro: FakeAllegro, state: FakeStateStore, metrics: Metrics, clock: FakeClock
) -> PollLoop:
    sync = SyncOrders(
        allegro,
        allegro,
        FakePublisher(),
        state,
        ImportPolicy(account="a"),
        SyncSettings(account="a", start_from="earliest"),
        clock,
    )
    return PollLoop(
        sync,
        clock,
        idle_seconds=15,
        backoff=Backoff(jitter=lambda: 1.0),
        observer=metrics,
        error_log=state,
    )


async def test_the_poll_loop_reports_batches_and_keeps_its_last_error_durably():
    allegro, state, metrics, clock = FakeAllegro(), FakeStateStore(), Metrics(), FakeClock()
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
    allegro, state, metrics, clock = FakeAllegro(), FakeStateStore(), Metrics(), FakeClock()
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
    sync = SyncOrders(
        allegro,
        allegro,
        FakePublisher(),
        FakeStateStore(),
        ImportPolicy(account="a"),
        SyncSettings(account="a", start_from="earliest"),
        FakeClock(),
    )
    loop = PollLoop(sync, FakeClock(), idle_seconds=15, stop_on=(Fenced,))

    try:
        await asyncio.wait_for(loop.run(asyncio.Event()), timeout=5)
    except Fenced:
        pass
    else:
        raise AssertionError("the loop kept running after a stop_on error")
    assert loop.status.consecutive_failures == 0
