"""What `/readyz` and `/metrics` report: the replica's role, its checks and its gauges.

Every check reads something this process already holds (the Kafka producer, the state
and token stores, the poll loop's status); none of them builds an Allegro client, so a
standby replica never refreshes a token by answering a probe.

The command path (OpenOMS's commands applied to Allegro) is reported, never judged: while its
rounds fail, `/readyz` names it under `degraded` with its last error, and the replica stays
ready. A failing command is held and retried, nothing is lost, and the import goes on beside
it; an unready replica would gain nothing (no traffic is routed to it, and readiness restarts
nothing), and a backlog of commands is work, not a fault. What the command path's failures
share with the import (the broker, Allegro, the token) already fails its own check; the rest
is for the alert on `openoms_allegro_command_consecutive_failures` (docs/operations.md,
"Commands").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from application.command_loop import CommandStatus
from application.offer_events import OfferEventsStatus
from application.offer_sync import OfferSyncStatus
from application.poll_loop import LoopStatus
from application.ports.clock import Clock
from application.ports.errors import PortError
from application.ports.state import StateStore, TokenStore
from entrypoints.lag import Lag
from entrypoints.metrics import Labels, Metrics
from entrypoints.offer_metrics import register_offer_metrics


class PathStatus(Protocol):
    """What `/readyz` and the runtime read of a path beside the import."""

    consecutive_failures: int
    last_error: str | None


log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 5.0
FAILURES_BEFORE_UNHEALTHY = 5
# A degraded part's last error, as `/readyz` shows it: enough to name the cause.
ERROR_SHOWN_CHARS = 200


class Role(StrEnum):
    STARTING = "starting"
    SINGLE = "single"  # SQLite: holds the state file's writer lock and polls
    LEADER = "leader"  # PostgreSQL: holds the account's lease and polls
    STANDBY = "standby"  # waits for the lease (PostgreSQL) or the writer lock (SQLite)


@dataclass(slots=True)
class ServiceState:
    """Written by the service (role, lag, readiness), read by the probes and the gauges."""

    role: Role = Role.STARTING
    role_since: datetime | None = None
    lag: Lag | None = None
    lag_measurement_failures: int = 0
    token_expires_at: datetime | None = None
    readiness: Readiness | None = None  # the last report of `HealthChecks.readiness`
    readiness_at: datetime | None = None

    def become(self, role: Role, now: datetime) -> None:
        if role != self.role:
            self.role, self.role_since = role, now
        if role not in (Role.LEADER, Role.SINGLE):
            self.lag = None  # only the poller measures it

    def lag_failed(self) -> None:
        """A measurement failed: the last lag stays (a gauge that vanishes breaks graphs and
        alerts), and the failure is counted; `lag.measured_at` tells how old it is."""
        self.lag_measurement_failures += 1

    @property
    def polling(self) -> bool:
        return self.role in (Role.LEADER, Role.SINGLE)


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    role: Role
    checks: dict[str, bool] = field(default_factory=dict)
    # Parts that fail without making the replica unready, with why (module docstring); in
    # the body only when there is one.
    degraded: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "ready": self.ready,
            "role": str(self.role),
            "checks": self.checks,
        }
        if self.degraded:
            body["degraded"] = self.degraded
        return body


class HealthChecks:
    def __init__(
        self,
        *,
        account: str,
        service: ServiceState,
        loop: LoopStatus,
        state_store: StateStore,
        token_store: TokenStore,
        broker: Callable[[], Awaitable[bool]],
        clock: Clock,
        stale_after: timedelta,
    ) -> None:
        self._account = account
        self._service = service
        self._loop = loop
        self._state = state_store
        self._tokens = token_store
        self._broker = broker
        self._clock = clock
        self._stale_after = stale_after
        self._paths: dict[str, PathStatus] = {}  # the paths beside the import, by name

    def watch_path(self, name: str, status: PathStatus) -> None:
        """Reports a path beside the import (`commands`, `offer_sync`, `offer_events`) in
        `/readyz`, as `degraded` while it fails."""
        self._paths[name] = status

    async def readiness(self) -> Readiness:
        broker, state, token = await asyncio.gather(
            _bounded(self._broker()),
            _bounded(self._state_reachable()),
            _bounded(self._token_valid()),
        )
        checks = {
            "broker": broker,
            "state_store": state,
            "token": token,
            "polling": self.polling_healthy(),
        }
        ready = self._service.role != Role.STARTING and all(checks.values())
        degraded = {
            name: failing
            for name in self._paths
            if (failing := self.path_failing(name)) is not None
        }
        report = Readiness(ready, self._service.role, checks, degraded)
        self._service.readiness, self._service.readiness_at = report, self._clock.now()
        return report

    def polling_healthy(self) -> bool:
        """A standby does not poll; a poller must not fail repeatedly nor fall silent."""
        service = self._service
        if not service.polling:
            return service.role == Role.STANDBY
        if self._loop.consecutive_failures >= FAILURES_BEFORE_UNHEALTHY:
            return False
        moments = [m for m in (self._loop.last_success_at, service.role_since) if m is not None]
        if not moments:
            return True
        return self._clock.now() - max(moments) < self._stale_after

    def path_failing(self, name: str) -> str | None:
        """Why the path `name` is failing now, or None. Only the poller runs these paths: a
        standby's streak is left from its last term."""
        status = self._paths.get(name)
        if status is None or not self._service.polling or status.consecutive_failures == 0:
            return None
        error = status.last_error or "no error recorded"
        if len(error) > ERROR_SHOWN_CHARS:
            error = error[: ERROR_SHOWN_CHARS - 3] + "..."
        return f"{status.consecutive_failures} round(s) failed in a row, the last: {error}"

    async def refresh_token_expiry(self) -> datetime | None:
        """Reads the stored pair (never refreshes it) and caches its expiry for the gauges."""
        pair = await self._tokens.load(self._account)
        self._service.token_expires_at = pair.expires_at if pair is not None else None
        return self._service.token_expires_at

    async def _state_reachable(self) -> bool:
        await self._state.load_cursor(self._account)
        return True

    async def _token_valid(self) -> bool:
        expires_at = await self.refresh_token_expiry()
        return expires_at is not None and expires_at > self._clock.now()


async def _bounded(check: Awaitable[bool]) -> bool:
    """A check that raises, or does not answer in time, has failed."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return await check
    except (PortError, TimeoutError, OSError) as exc:
        log.debug("readiness check failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        return False


def register_gauges(
    metrics: Metrics, service: ServiceState, loop: LoopStatus, account: str
) -> None:
    """The gauges of `/metrics`; a value that is unknown is left out rather than faked.

    Moments are Unix timestamps (`*_timestamp_seconds`): "how long ago" is `time() - x` in
    PromQL, right even when scrapes are missed: every gauge here reads a moment the service
    recorded, none is computed relative to now.
    """

    def one(value: float | None) -> list[tuple[Labels, float]]:
        return [] if value is None else [((), value)]

    def moment(value: datetime | None) -> float | None:
        return None if value is None else value.timestamp()

    def polled_lag() -> Lag | None:
        return service.lag if service.polling else None

    def last_success() -> list[tuple[Labels, float]]:
        return one(moment(loop.last_success_at) if service.polling else None)

    def lag_seconds() -> list[tuple[Labels, float]]:
        lag = polled_lag()
        return one(lag.seconds if lag is not None else None)

    def lag_events() -> list[tuple[Labels, float]]:
        lag = polled_lag()
        return one(None if lag is None or lag.events is None else float(lag.events))

    def lag_measured() -> list[tuple[Labels, float]]:
        lag = polled_lag()
        return one(None if lag is None else lag.measured_at.timestamp())

    def waiting_retry() -> list[tuple[Labels, float]]:
        lag = polled_lag()
        return one(None if lag is None or lag.waiting_retry is None else float(lag.waiting_retry))

    def dependencies() -> list[tuple[Labels, float]]:
        report = service.readiness
        if report is None:
            return []
        return [((("dependency", name),), 1.0 if ok else 0.0) for name, ok in report.checks.items()]

    def ready() -> list[tuple[Labels, float]]:
        report = service.readiness
        return one(None if report is None else 1.0 if report.ready else 0.0)

    metrics.gauge(
        "openoms_allegro_info",
        "The seller account and the replica's role (value 1)",
        lambda: [((("account", account), ("role", str(service.role))), 1.0)],
    )
    metrics.gauge(
        "openoms_allegro_leader",
        "1 while this replica polls the account (leader, or the only SQLite replica)",
        lambda: one(1.0 if service.polling else 0.0),
    )
    metrics.gauge(
        "openoms_allegro_last_success_timestamp_seconds",
        "When the last poll succeeded, Unix time (pollers only)",
        last_success,
    )
    metrics.gauge(
        "openoms_allegro_cursor_lag_seconds",
        "How far the cursor is behind /order/event-stats, in seconds of event time "
        "(the last value measured)",
        lag_seconds,
    )
    metrics.gauge(
        "openoms_allegro_cursor_lag_events",
        "Journal events after the cursor, counted up to one page of 1000 (the last value measured)",
        lag_events,
    )
    metrics.gauge(
        "openoms_allegro_cursor_lag_measured_timestamp_seconds",
        "When the lag was last measured, Unix time",
        lag_measured,
    )
    metrics.counter(
        "openoms_allegro_lag_measurement_failures_total",
        "Lag measurements that failed (the lag gauges keep the last value)",
        lambda: [((), float(service.lag_measurement_failures))],
    )
    metrics.gauge(
        "openoms_allegro_orders_waiting_retry",
        "Checkout forms that failed to map and wait for their next attempt (counted up to "
        "1000, read with the lag)",
        waiting_retry,
    )
    metrics.gauge(
        "openoms_allegro_token_expiry_timestamp_seconds",
        "When the stored access token expires, Unix time",
        lambda: one(moment(service.token_expires_at)),
    )
    metrics.gauge(
        "openoms_allegro_dependency_up",
        "The last readiness check of each dependency (1 up, 0 down), as /readyz reports it",
        dependencies,
    )
    metrics.gauge(
        "openoms_allegro_ready",
        "The last readiness report (1 ready, 0 not), as /readyz answers it",
        ready,
    )
    metrics.gauge(
        "openoms_allegro_readiness_checked_timestamp_seconds",
        "When readiness was last checked, Unix time",
        lambda: one(moment(service.readiness_at)),
    )


def register_commands(
    metrics: Metrics,
    checks: HealthChecks,
    service: ServiceState,
    status: CommandStatus,
    account: str,
    *,
    enabled: bool,
) -> None:
    """The command path in `/metrics` and `/readyz` when `run` applies commands
    (COMMANDS_ENABLED); with it off, neither mentions it."""
    if not enabled:
        return
    checks.watch_path("commands", status)
    metrics.command_path(status, account, lambda: service.polling)


def register_offers(
    metrics: Metrics,
    checks: HealthChecks,
    service: ServiceState,
    sync: OfferSyncStatus,
    events: OfferEventsStatus,
    account: str,
    *,
    enabled: bool,
) -> None:
    """The offer paths in `/metrics` and `/readyz` when `run` keeps offers in sync
    (OFFERS_ENABLED); with it off, neither mentions them."""
    if not enabled:
        return
    checks.watch_path("offer_sync", sync)
    checks.watch_path("offer_events", events)
    register_offer_metrics(metrics, sync, events, account, lambda: service.polling)
