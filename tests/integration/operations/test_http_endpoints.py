"""`/healthz`, `/readyz` and `/metrics` of a real `openoms-allegro run`, over real HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorServer, SimulatorState
from tests.integration.operations.harness import free_port, get, metrics, operations_env, readiness
from tests.support.process import service_process
from tests.support.service import scripted_simulator
from tests.unit.entrypoints.prometheus_text import parse_metrics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

REQUESTS = "openoms_allegro_allegro_requests_total"
PUBLISHED_IMPORTS = 'openoms_allegro_events_published_total{event_type="OrderImported"}'
EVERY_METRIC = (
    "openoms_allegro_build_info",
    "openoms_allegro_allegro_requests_total",
    "openoms_allegro_allegro_request_duration_seconds",
    "openoms_allegro_allegro_rate_limit_waits_total",
    "openoms_allegro_allegro_rate_limit_wait_seconds_total",
    "openoms_allegro_allegro_rate_limit_per_minute",
    "openoms_allegro_allegro_rate_limit_used_requests",
    "openoms_allegro_events_processed_total",
    "openoms_allegro_orders_processed_total",
    "openoms_allegro_events_published_total",
    "openoms_allegro_dead_letters_total",
    "openoms_allegro_poll_failures_total",
    "openoms_allegro_batch_duration_seconds",
    "openoms_allegro_publish_duration_seconds",
    "openoms_allegro_cursor_lag_seconds",
    "openoms_allegro_cursor_lag_events",
    "openoms_allegro_lag_measurement_failures_total",
    "openoms_allegro_orders_waiting_retry",
    "openoms_allegro_last_success_timestamp_seconds",
    "openoms_allegro_token_expiry_timestamp_seconds",
    "openoms_allegro_dependency_up",
    "openoms_allegro_ready",
    "openoms_allegro_leader",
    "openoms_allegro_info",
    "process_cpu_seconds_total",
)

# Every label value the service may expose, by label: nothing else (no token, secret, order
# id or buyer data) can reach /metrics through a label.
LABEL_VALUES = {
    "account": r"e2e",
    "role": r"starting|single|leader|standby",
    "version": r"[\w.+-]+",
    "endpoint": r"/[\w/{}-]*",
    "status": r"\d{3}|[a-z_]+",
    "event_type": r"OrderImported|OrderStatusChanged|OrderUpdated",
    "error": r"[A-Z]\w*",
    "dependency": r"broker|state_store|token|polling",
    "result": r"committed|held|empty|succeeded|rejected|conflict|invalid",
    "le": r"[\d.e+-]+|\+Inf",
}


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    with scripted_simulator(seed=808, orders=20) as server:
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
        scraped_at = time.time()
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
    assert 0 <= scraped_at - samples["openoms_allegro_last_success_timestamp_seconds"] < 10
    assert 43_000 < samples["openoms_allegro_token_expiry_timestamp_seconds"] - scraped_at < 43_200
    assert samples["openoms_allegro_ready"] == 1
    up = {n: v for n, v in samples.items() if n.startswith("openoms_allegro_dependency_up")}
    assert up == {
        f'openoms_allegro_dependency_up{{dependency="{name}"}}': 1 for name in ready["checks"]
    }
    assert samples["openoms_allegro_orders_waiting_retry"] == 0
    assert samples["openoms_allegro_allegro_rate_limit_per_minute"] == 6000  # service_env
    assert samples["openoms_allegro_leader"] == 1
    assert not [name for name in samples if name.startswith("openoms_allegro_poll_failures")]
    assert samples['openoms_allegro_info{account="e2e",role="single"}'] == 1
    requests = {n: v for n, v in samples.items() if n.startswith(REQUESTS)}
    assert requests[f'{REQUESTS}{{endpoint="/order/events",status="200"}}'] >= 1
    assert requests[f'{REQUESTS}{{endpoint="/order/event-stats",status="200"}}'] >= 1
    duration = 'openoms_allegro_allegro_request_duration_seconds_count{endpoint="/order/events"}'
    assert samples[duration] == sum(v for n, v in requests.items() if '/order/events"' in n)
    assert samples['openoms_allegro_batch_duration_seconds_count{result="committed"}'] >= 1
    form_reads = [value for name, value in requests.items() if "/order/checkout-forms" in name]
    assert sum(form_reads) >= 1  # per order or by pages: the adapter's choice
    families = {family.name: family for family in text_string_to_metric_families(scrape.text)}
    for name in EVERY_METRIC:
        assert name.removesuffix("_total") in families, name
    for family in families.values():
        if not family.name.startswith("openoms_allegro_"):
            continue  # process_* and python_* from prometheus-client
        for sample in family.samples:
            for label, value in sample.labels.items():
                assert re.fullmatch(LABEL_VALUES[label], value), (sample.name, label, value)
    for secret in ("ALLEGRO_CLIENT_SECRET", "ALLEGRO_REFRESH_TOKEN", "TOKEN_ENCRYPTION_KEY"):
        assert env[secret] not in scrape.text, secret
    assert exit_code == 0
