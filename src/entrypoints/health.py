"""What `/readyz` and `/metrics` report: the replica's role, its checks and its gauges.

Every check reads something this process already holds (the Kafka producer, the state
and token stores, the poll loop's status); none of them builds an Allegro client, so a
standby replica never refreshes a token by answering a probe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from application.poll_loop import LoopStatus
from application.ports.clock import Clock
from application.ports.errors import PortError
from application.ports.state import StateStore, TokenStore
from entrypoints.lag import Lag
from entrypoints.metrics import Labels, Metrics

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 5.0
FAILURES_BEFORE_UNHEALTHY = 5


class Role(StrEnum):
    STARTING = "starting"
    SINGLE = "single"  # SQLite: holds the state file's writer lock and polls
    LEADER = "leader"  # PostgreSQL: holds the account's lease and polls
    STANDBY = "standby"  # waits for the lease (PostgreSQL) or the writer lock (SQLite)


@dataclass(slots=True)
class ServiceState:
    """Written by the service (role, lag), read by the probes and the gauges."""

    role: Role = Role.STARTING
    role_since: datetime | None = None
    lag: Lag | None = None
    token_expires_at: datetime | None = None

    def become(self, role: Role, now: datetime) -> None:
        if role != self.role:
            self.role, self.role_since = role, now
        if role not in (Role.LEADER, Role.SINGLE):
            self.lag = None  # only the poller measures it

    @property
    def polling(self) -> bool:
        return self.role in (Role.LEADER, Role.SINGLE)


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    role: Role
    checks: dict[str, bool] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {"ready": self.ready, "role": str(self.role), "checks": self.checks}


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
        return Readiness(ready, self._service.role, checks)

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
    metrics: Metrics, service: ServiceState, loop: LoopStatus, clock: Clock, account: str
) -> None:
    """The gauges of `/metrics`; a value that is unknown is left out rather than faked."""

    def one(value: float | None) -> list[tuple[Labels, float]]:
        return [] if value is None else [((), value)]

    def seconds_until(moment: datetime | None) -> float | None:
        return None if moment is None else (moment - clock.now()).total_seconds()

    def since_success() -> list[tuple[Labels, float]]:
        last = loop.last_success_at
        if not service.polling or last is None:
            return []
        return one((clock.now() - last).total_seconds())

    def lag_seconds() -> list[tuple[Labels, float]]:
        lag = service.lag
        return one(lag.seconds if lag is not None and service.polling else None)

    def lag_events() -> list[tuple[Labels, float]]:
        lag = service.lag
        if lag is None or lag.events is None or not service.polling:
            return []
        return one(float(lag.events))

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
        "openoms_allegro_seconds_since_last_success",
        "Seconds since the last successful poll (pollers only)",
        since_success,
    )
    metrics.gauge(
        "openoms_allegro_cursor_lag_seconds",
        "How far the cursor is behind /order/event-stats, in seconds of event time",
        lag_seconds,
    )
    metrics.gauge(
        "openoms_allegro_cursor_lag_events",
        "Journal events after the cursor (counted up to one page of 1000)",
        lag_events,
    )
    metrics.gauge(
        "openoms_allegro_token_expires_in_seconds",
        "Seconds until the stored access token expires (negative: expired)",
        lambda: one(seconds_until(service.token_expires_at)),
    )
