"""Readiness checks and gauges, judged with fakes, then served over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from application.poll_loop import LoopStatus
from application.ports import StateStoreError
from application.ports.state import Cursor, TokenPair
from entrypoints.health import HealthChecks, Role, ServiceState, register_gauges
from entrypoints.http import HttpEndpoint, create_app
from entrypoints.lag import Lag
from entrypoints.metrics import Metrics
from tests.support.fakes import FakeClock, MemoryStateStore, MemoryTokenStore
from tests.unit.entrypoints.prometheus_text import parse_metrics

ACCOUNT = "shop"
STALE_AFTER = timedelta(minutes=10)


class Probe:
    """Everything a HealthChecks reads, with knobs to break each part."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.service = ServiceState()
        self.loop = LoopStatus()
        self.state = MemoryStateStore()
        self.tokens = MemoryTokenStore()
        self.broker_up = True
        self.tokens.pairs[ACCOUNT] = TokenPair("acc", "ref", self.clock.now() + timedelta(hours=1))
        self.service.become(Role.SINGLE, self.clock.now())
        self.checks = HealthChecks(
            account=ACCOUNT,
            service=self.service,
            loop=self.loop,
            state_store=self.state,
            token_store=self.tokens,
            broker=self.broker,
            clock=self.clock,
            stale_after=STALE_AFTER,
        )

    async def broker(self) -> bool:
        return self.broker_up


async def test_a_healthy_single_replica_is_ready() -> None:
    probe = Probe()

    report = await probe.checks.readiness()

    assert report.ready
    assert report.body() == {
        "ready": True,
        "role": "single",
        "checks": {"broker": True, "state_store": True, "token": True, "polling": True},
    }


@pytest.mark.parametrize("broken", ["broker", "state_store", "token", "polling"])
async def test_each_failing_check_makes_the_replica_unready(broken: str) -> None:
    probe = Probe()
    if broken == "broker":
        probe.broker_up = False
    elif broken == "state_store":
        probe.state.fail_with = StateStoreError("connection refused")
    elif broken == "token":
        probe.clock.advance(3601)  # the stored access token has expired
        probe.loop.last_success_at = probe.clock.now()
    else:
        probe.loop.consecutive_failures = 5

    report = await probe.checks.readiness()

    assert not report.ready
    assert [name for name, ok in report.checks.items() if not ok] == [broken]


async def test_no_stored_tokens_is_not_ready_and_unreadable_tokens_neither() -> None:
    probe = Probe()
    probe.tokens.pairs.clear()
    assert (await probe.checks.readiness()).checks["token"] is False

    probe.tokens.fail_with = StateStoreError("TOKEN_ENCRYPTION_KEY does not match")
    assert (await probe.checks.readiness()).checks["token"] is False


async def test_a_check_that_hangs_fails_instead_of_hanging_the_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("entrypoints.health.CHECK_TIMEOUT_SECONDS", 0.05)
    probe = Probe()

    async def hanging() -> bool:
        await asyncio.Event().wait()
        return True

    probe.checks._broker = hanging

    report = await asyncio.wait_for(probe.checks.readiness(), timeout=5)

    assert report.checks["broker"] is False


def test_a_poller_that_falls_silent_is_unhealthy() -> None:
    probe = Probe()
    probe.loop.last_success_at = probe.clock.now()

    probe.clock.advance(STALE_AFTER.total_seconds() - 1)
    assert probe.checks.polling_healthy()
    probe.clock.advance(2)
    assert not probe.checks.polling_healthy()


def test_a_new_leader_gets_the_stale_period_from_when_it_started_leading() -> None:
    probe = Probe()
    probe.loop.last_success_at = probe.clock.now()
    probe.clock.advance(3600)  # a standby for an hour, then the lease

    probe.service.become(Role.STANDBY, probe.clock.now())
    probe.service.become(Role.LEADER, probe.clock.now())

    assert probe.checks.polling_healthy()


async def test_a_standby_is_ready_and_says_so() -> None:
    probe = Probe()
    probe.service.become(Role.STANDBY, probe.clock.now())
    probe.loop.consecutive_failures = 9  # left over from an earlier term: not its business

    report = await probe.checks.readiness()

    assert report.ready
    assert report.role == Role.STANDBY


async def test_a_replica_still_starting_is_not_ready() -> None:
    probe = Probe()
    probe.service.role = Role.STARTING

    assert not (await probe.checks.readiness()).ready


def test_gauges_report_the_poller_and_leave_out_what_is_unknown() -> None:
    probe, metrics = Probe(), Metrics()
    register_gauges(metrics, probe.service, probe.loop, ACCOUNT)
    succeeded = probe.loop.last_success_at = probe.clock.now()
    expiry = probe.service.token_expires_at = probe.clock.now() + timedelta(seconds=90)
    measured = probe.clock.now()
    probe.service.lag = Lag(Cursor("1"), "2", 12.5, 40, False, measured, waiting_retry=3)
    probe.clock.advance(30)

    samples = parse_metrics(metrics.render())

    assert samples['openoms_allegro_info{account="shop",role="single"}'] == 1
    assert samples["openoms_allegro_leader"] == 1
    assert samples["openoms_allegro_last_success_timestamp_seconds"] == succeeded.timestamp()
    assert samples["openoms_allegro_token_expiry_timestamp_seconds"] == expiry.timestamp()
    assert samples["openoms_allegro_cursor_lag_seconds"] == 12.5
    assert samples["openoms_allegro_cursor_lag_events"] == 40
    assert samples["openoms_allegro_cursor_lag_measured_timestamp_seconds"] == measured.timestamp()
    assert samples["openoms_allegro_orders_waiting_retry"] == 3
    assert samples["openoms_allegro_lag_measurement_failures_total"] == 0
    assert "openoms_allegro_ready" not in samples  # no readiness checked yet
    assert not [name for name in samples if name.startswith("openoms_allegro_dependency_up")]

    probe.service.become(Role.STANDBY, probe.clock.now())
    samples = parse_metrics(metrics.render())

    assert samples["openoms_allegro_leader"] == 0
    assert "openoms_allegro_last_success_timestamp_seconds" not in samples
    assert "openoms_allegro_cursor_lag_seconds" not in samples


def test_a_failed_lag_measurement_keeps_the_last_lag_and_is_counted() -> None:
    probe, metrics = Probe(), Metrics()
    register_gauges(metrics, probe.service, probe.loop, ACCOUNT)
    probe.service.lag = Lag(Cursor("1"), "2", 7.0, 4, False, probe.clock.now(), waiting_retry=1)

    probe.service.lag_failed()
    probe.service.lag_failed()

    samples = parse_metrics(metrics.render())
    assert samples["openoms_allegro_cursor_lag_seconds"] == 7.0
    assert samples["openoms_allegro_cursor_lag_events"] == 4
    assert samples["openoms_allegro_orders_waiting_retry"] == 1
    assert samples["openoms_allegro_lag_measurement_failures_total"] == 2


async def test_dependency_gauges_mirror_the_last_readiness_report() -> None:
    probe, metrics = Probe(), Metrics()
    register_gauges(metrics, probe.service, probe.loop, ACCOUNT)
    probe.broker_up = False
    probe.state.fail_with = StateStoreError("connection refused")

    report = await probe.checks.readiness()

    samples = parse_metrics(metrics.render())
    up = {
        name: samples[f'openoms_allegro_dependency_up{{dependency="{name}"}}']
        for name in report.checks
    }
    assert up == {name: float(ok) for name, ok in report.checks.items()}
    assert up == {"broker": 0, "state_store": 0, "token": 1, "polling": 1}
    assert samples["openoms_allegro_ready"] == 0
    checked = samples["openoms_allegro_readiness_checked_timestamp_seconds"]
    assert checked == probe.clock.now().timestamp()

    probe.broker_up, probe.state.fail_with = True, None
    await probe.checks.readiness()

    samples = parse_metrics(metrics.render())
    assert samples['openoms_allegro_dependency_up{dependency="broker"}'] == 1
    assert samples["openoms_allegro_ready"] == 1


@pytest.fixture
async def served() -> AsyncIterator[tuple[Probe, str]]:
    probe = Probe()
    metrics = Metrics()
    register_gauges(metrics, probe.service, probe.loop, ACCOUNT)
    app = create_app(
        metrics,
        probe.checks.readiness,
        readiness_ttl_seconds=0,  # each probe below sees the change just made
    )
    endpoint = HttpEndpoint(app, "127.0.0.1", 0)
    await endpoint.start()
    try:
        yield probe, f"http://127.0.0.1:{endpoint.port}"
    finally:
        await endpoint.stop()


async def test_the_endpoints_answer_over_http(served: tuple[Probe, str]) -> None:
    probe, url = served
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
        probe.broker_up = False
        unready = await client.get("/readyz")
        scraped = await client.get("/metrics")

    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()["ready"]) == (200, True)
    assert unready.status_code == 503
    assert unready.json()["checks"]["broker"] is False
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse_metrics(scraped.text)
    expiry = probe.tokens.pairs[ACCOUNT].expires_at.timestamp()
    assert samples["openoms_allegro_token_expiry_timestamp_seconds"] == expiry
    assert samples['openoms_allegro_dependency_up{dependency="broker"}'] == 0  # the last /readyz


async def test_readiness_as_the_scrape_hook_keeps_the_dependency_gauges_fresh() -> None:
    """Each scrape refreshes the readiness report (cached like `/readyz`'s; here ttl 0)."""
    probe, metrics = Probe(), Metrics()
    register_gauges(metrics, probe.service, probe.loop, ACCOUNT)
    app = create_app(metrics, probe.checks.readiness, readiness_ttl_seconds=0)
    endpoint = HttpEndpoint(app, "127.0.0.1", 0)
    await endpoint.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{endpoint.port}", timeout=5) as c:
            before = parse_metrics((await c.get("/metrics")).text)
            probe.broker_up = False
            after = parse_metrics((await c.get("/metrics")).text)
    finally:
        await endpoint.stop()

    broker = 'openoms_allegro_dependency_up{dependency="broker"}'
    assert (before[broker], before["openoms_allegro_ready"]) == (1, 1)
    assert (after[broker], after["openoms_allegro_ready"]) == (0, 0)
