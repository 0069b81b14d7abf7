"""The Grafana dashboard and the Prometheus alert rules in docs/ name only series that the
service's /metrics exposes (with the suffixes PromQL sees: _total, _bucket, _sum, _count)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from application.command_loop import CommandStatus
from application.offer_events import OfferEventsStatus
from application.offer_sync import OfferSyncStatus
from application.poll_loop import LoopStatus
from entrypoints.health import (
    HealthChecks,
    Role,
    ServiceState,
    register_commands,
    register_gauges,
    register_offers,
)
from entrypoints.metrics import Metrics
from tests.support.fakes import FakeClock, MemoryStateStore, MemoryTokenStore

DOCS = Path(__file__).resolve().parents[3] / "docs"
DASHBOARD = DOCS / "grafana-dashboard.json"
ALERTS = DOCS / "prometheus-alerts.yml"

SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
    "info": ("_info",),
}
# PromQL words that look like names: operators, modifiers and label-list keywords.
KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")  # label matchers (and Grafana's ${var})
_RANGES = re.compile(r"\[[^\]]*\]")  # [5m], [$__rate_interval]
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def exposed_names() -> set[str]:
    """Every series name the running service can expose, from its rendered /metrics: the
    gauges and the command path registered as `Runtime.open` registers them."""
    metrics, service = Metrics(), ServiceState()
    register_gauges(metrics, service, LoopStatus(), "shop")
    clock = FakeClock()
    service.become(Role.SINGLE, clock.now())  # the poller: every command series
    checks = HealthChecks(
        account="shop",
        service=service,
        loop=LoopStatus(),
        state_store=MemoryStateStore(),
        token_store=MemoryTokenStore(),
        broker=_broker_up,
        clock=clock,
        stale_after=timedelta(minutes=10),
    )
    register_commands(metrics, checks, service, CommandStatus(), "shop", enabled=True)
    register_offers(
        metrics, checks, service, OfferSyncStatus(), OfferEventsStatus(), "shop", enabled=True
    )
    names: set[str] = set()
    for family in text_string_to_metric_families(metrics.render()):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


async def _broker_up() -> bool:
    return True


def series_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions and keywords left out)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _LABEL_LISTS.sub("", text)
    return {
        name
        for name, call in _NAME.findall(text)
        if not call and name not in KEYWORDS and not re.fullmatch(r"\d.*|e\d*|inf|nan", name)
    }


def dashboard_exprs() -> Iterator[str]:
    dashboard = json.loads(DASHBOARD.read_text())

    def walk(panels: list[dict[str, object]]) -> Iterator[str]:
        for panel in panels:
            for target in panel.get("targets", []):  # type: ignore[attr-defined]
                yield target["expr"]
            yield from walk(panel.get("panels", []))  # type: ignore[arg-type]

    yield from walk(dashboard["panels"])
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            found = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query["query"])
            assert found, f"unexpected template query {query['query']!r}"
            yield found.group(1)


def alert_exprs() -> Iterator[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule
            yield str(rule["expr"])


def test_the_expression_reader_finds_names_and_skips_the_rest() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, endpoint) (rate(x_bucket{a="b",c=~"$d"}'
        "[$__rate_interval]))) > 1e3 and on (instance) y == 1 or time() - z offset 5m"
    )

    assert series_in(expr) == {"x_bucket", "y", "z"}


@pytest.mark.parametrize(
    ("document", "exprs"), [("dashboard", dashboard_exprs), ("alerts", alert_exprs)]
)
def test_every_series_the_docs_use_is_exposed(document: str, exprs: object) -> None:
    exposed = exposed_names()
    used = {name for expr in exprs() for name in series_in(expr)}  # type: ignore[operator]

    assert used, f"no series found in the {document}"
    assert sorted(used - exposed) == []


def test_the_alerts_cover_the_operators_cases() -> None:
    used = {name for expr in alert_exprs() for name in series_in(expr)}

    assert {
        "openoms_allegro_cursor_lag_seconds",  # lag
        "openoms_allegro_dead_letters_total",  # DLQ growth
        "openoms_allegro_allegro_requests_total",  # 429s
        "openoms_allegro_token_expiry_timestamp_seconds",  # token expiry
        "openoms_allegro_ready",  # not ready
        "openoms_allegro_last_success_timestamp_seconds",  # no successful poll
        "openoms_allegro_command_consecutive_failures",  # the command path failing
        "openoms_allegro_command_dead_letters_total",  # records that are not commands
    } <= used


def test_the_dashboard_shows_p95_and_p99_of_each_duration() -> None:
    exprs = list(dashboard_exprs())

    for histogram in (
        "openoms_allegro_allegro_request_duration_seconds",
        "openoms_allegro_publish_duration_seconds",
        "openoms_allegro_batch_duration_seconds",
    ):
        for quantile in ("0.95", "0.99"):
            assert any(
                f"histogram_quantile({quantile}," in expr and f"{histogram}_bucket" in expr
                for expr in exprs
            ), (histogram, quantile)
