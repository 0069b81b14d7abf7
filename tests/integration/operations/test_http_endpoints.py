"""`/healthz`, `/readyz` and `/metrics` of a real `openoms-allegro run`, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.kafka.config import KafkaConfig
from adapters.simulator import SimulatorConfig, SimulatorServer, SimulatorState
from tests.integration.operations.harness import free_port, get, metrics, operations_env, readiness
from tests.support.process import service_process
from tests.unit.entrypoints.prometheus_text import parse_metrics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

PUBLISHED_IMPORTS = 'openoms_allegro_events_published_total{event_type="OrderImported"}'
EVERY_METRIC = (
    "allegro_requests_total",
    "allegro_request_seconds_total",
    "allegro_rate_limit_waits_total",
    "allegro_rate_limit_wait_seconds_total",
    "openoms_allegro_events_processed_total",
    "openoms_allegro_orders_processed_total",
    "openoms_allegro_events_published_total",
    "openoms_allegro_dead_letters_total",
    "openoms_allegro_poll_failures_total",
    "openoms_allegro_cursor_lag_seconds",
    "openoms_allegro_cursor_lag_events",
    "openoms_allegro_seconds_since_last_success",
    "openoms_allegro_token_expires_in_seconds",
    "openoms_allegro_leader",
    "openoms_allegro_info",
)


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    state = SimulatorState(SimulatorConfig(seed=808))
    state.script_mixed_lifecycles(20, seed=808)
    with SimulatorServer(state) as server:
        yield server


def journal_facts(state: SimulatorState) -> tuple[int, int, int]:
    """(events, checkout forms they name, orders that reached the import trigger)."""
    journal = state.journal()
    forms = {event["order"]["checkoutForm"]["id"] for event in journal}
    trigger = "READY_FOR_PROCESSING"
    imports = [oid for oid in state.order_ids() if state.ever_reached(oid, trigger)]
    return len(journal), len(forms), len(imports)


def healthy(port: int) -> bool:
    response = get(port, "/healthz")
    return response is not None and response.status_code == 200


def test_a_running_service_is_live_ready_and_measured(
    allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    events, forms, imports = journal_facts(allegro.state)
    port = free_port()
    env = operations_env(
        allegro,
        allegro.state.initial_refresh_token,
        kafka_topics,
        f"sqlite:///{tmp_path}/state.db",
        port,
    )
    with service_process(env, "run") as service:
        service.wait_for(lambda: healthy(port), within=30, what="/healthz")
        service.wait_for(lambda: readiness(port).get("ready") is True, within=30, what="ready")
        service.wait_for(
            lambda: metrics(port).get(PUBLISHED_IMPORTS) == imports, within=30, what="imports"
        )
        service.wait_for(
            lambda: metrics(port).get("openoms_allegro_cursor_lag_events") == 0,
            within=30,
            what="the lag probe to see the cursor caught up",
        )
        ready, scrape = readiness(port), get(port, "/metrics")
        service.terminate()
        exit_code = service.wait_exit(within=20)

    assert scrape is not None
    samples = parse_metrics(scrape.text)
    assert ready == {
        "ready": True,
        "role": "single",
        "checks": {"broker": True, "state_store": True, "token": True, "polling": True},
    }
    assert samples["openoms_allegro_events_processed_total"] == events
    assert samples["openoms_allegro_orders_processed_total"] == forms
    assert samples["openoms_allegro_dead_letters_total"] == 0
    assert samples["openoms_allegro_cursor_lag_seconds"] == 0
    assert 0 <= samples["openoms_allegro_seconds_since_last_success"] < 10
    assert 43_000 < samples["openoms_allegro_token_expires_in_seconds"] <= 43_199
    assert samples["openoms_allegro_leader"] == 1
    assert not [name for name in samples if name.startswith("openoms_allegro_poll_failures")]
    assert samples['openoms_allegro_info{account="e2e",role="single"}'] == 1
    requests = {n: v for n, v in samples.items() if n.startswith("allegro_requests_total")}
    assert requests['allegro_requests_total{endpoint="/order/events",status="200"}'] >= 1
    assert requests['allegro_requests_total{endpoint="/order/event-stats",status="200"}'] >= 1
    form_reads = [value for name, value in requests.items() if "/order/checkout-forms" in name]
    assert sum(form_reads) >= 1  # per order or by pages: the adapter's choice
    for name in EVERY_METRIC:
        assert f"# TYPE {name} " in scrape.text, name
    assert exit_code == 0
