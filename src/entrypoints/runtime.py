"""The long-running service's parts: what lives as long as the process, and one term of
polling (which lasts as long as this replica holds the lease, with PostgreSQL, or the state
file's writer lock, with SQLite).

Process-wide: the state and token stores, the Kafka producer, the lease, health and
metrics. Per term: the Allegro client (so only the poller ever refreshes a token), the
poll loop and the lag probe; they are built when the term starts and closed when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from adapters.kafka import AiokafkaEventPublisher
from application.poll_loop import Backoff, PollLoop
from application.ports.errors import PortError
from application.ports.state import StateStore, TokenStore
from application.stopping import unless_stopped
from entrypoints.health import (
    HealthChecks,
    PathStatus,
    Role,
    ServiceState,
    register_commands,
    register_gauges,
    register_offers,
)
from entrypoints.lag import LagProbe
from entrypoints.leadership import Leadership, default_holder
from entrypoints.recovery import watch_recovery
from entrypoints.single_writer import SingleWriter
from entrypoints.wiring import Wired

log = logging.getLogger(__name__)

STALE_AFTER_POLLS = 10
# How long a stopping term waits for the command in flight (its result and commit) before it
# is abandoned: an abandoned one is re-delivered, and applying it again changes nothing.
COMMANDS_STOP_SECONDS = 5.0
STALE_AFTER_MINIMUM = timedelta(minutes=10)


async def measure_lag(service: ServiceState, probe: LagProbe) -> None:
    """One lag measurement into `service`. A failed one keeps the last value: a lag that
    vanishes during an outage breaks graphs and alerts exactly when they matter; the
    failure is counted instead (`lag.measured_at` says how old the value is)."""
    try:
        service.lag = await probe.measure()
    except PortError as exc:
        service.lag_failed()
        log.debug("lag not measured", extra={"error": f"{type(exc).__name__}: {exc}"})


class Runtime:
    def __init__(self, wired: Wired) -> None:
        self._wired = wired
        self._settings = settings = wired.settings
        self.account = settings.allegro_account
        self.metrics = wired.metrics
        self.service: ServiceState = wired.service_state
        self.clock = wired.clock
        self.health: HealthChecks | None = None
        self.state_store: StateStore | None = None
        self.token_store: TokenStore | None = None
        self.publisher: AiokafkaEventPublisher | None = None

    async def open(self) -> HealthChecks:
        """Opens the process-wide resources; fails fast if one of them cannot start."""
        wired = self._wired
        self.state_store = state_store = await wired.state_store()
        self.token_store = token_store = await wired.token_store()
        self.publisher = publisher = await wired.kafka_publisher()
        loop_status = wired.loop_status
        poll = self._settings.poll_interval_seconds
        self.health = HealthChecks(
            account=self.account,
            service=self.service,
            loop=loop_status,
            state_store=state_store,
            token_store=token_store,
            broker=publisher.healthy,
            clock=self.clock,
            stale_after=max(timedelta(seconds=poll * STALE_AFTER_POLLS), STALE_AFTER_MINIMUM),
        )
        register_gauges(self.metrics, self.service, loop_status, self.account)
        register_commands(
            self.metrics,
            self.health,
            self.service,
            wired.command_status,
            self.account,
            enabled=self._settings.commands_enabled,
        )
        register_offers(
            self.metrics,
            self.health,
            self.service,
            wired.offer_sync_status,
            wired.offer_events_status,
            self.account,
            enabled=self._settings.offers_enabled,
        )
        return self.health

    async def run(self, stop: asyncio.Event) -> None:
        """Polls until `stop`, while this replica holds the lease (PostgreSQL) or the state
        file's writer lock (SQLite)."""
        if not self._wired.postgres:
            await (await self.single_writer()).run(stop, self.term)
            return
        await (await self.leadership()).run(stop, self.term)

    async def single_writer(self) -> SingleWriter:
        return SingleWriter(
            await self._wired.writer_lock(),
            holder=default_holder(),
            clock=self.clock,
            on_role=self._become,
        )

    async def leadership(self) -> Leadership:
        return Leadership(
            await self._wired.leases(),
            self._wired.fence,
            account=self.account,
            holder=default_holder(),
            ttl=timedelta(seconds=self._settings.lease_ttl_seconds),
            on_role=self._become,
            patience=timedelta(seconds=self._settings.lease_wait_seconds),
        )

    async def term(self, stop: asyncio.Event) -> None:
        """One term of polling: builds the Allegro client, polls, closes the client."""
        try:
            loop = await self._wired.poll_loop()
            loop.status.consecutive_failures = 0  # a new term is judged on its own polls
            client = await self._wired.allegro()
            assert self.state_store is not None, "open() first"
            probe = LagProbe(client.journal, self.state_store, self.account, self.clock)
            helpers = [
                asyncio.create_task(self._measure(probe, stop), name="lag-probe"),
                asyncio.create_task(self.watch_recovery(loop, stop), name="recovery-watch"),
            ]
            # The command path runs beside the import for the term, on the same Allegro
            # client: one rate budget for both. It ends with the term (its own stop).
            # So do the offer paths (docs/offers.md), when on.
            done = asyncio.Event()
            paths = [
                asyncio.create_task(self._path(start, close, status, done), name=name)
                for name, start, close, status in self._paths()
            ]
            try:
                await loop.run(stop)
            finally:
                done.set()
                for helper in helpers:
                    helper.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)
                await asyncio.gather(*(_finish(path, COMMANDS_STOP_SECONDS) for path in paths))
        finally:
            await self._wired.close_allegro()  # the next term builds a new client

    def _paths(self) -> list[tuple[str, Start, Close, PathStatus]]:
        """The paths that run beside the import in a term: (name, start, close, status)."""
        wired, settings = self._wired, self._settings
        paths: list[tuple[str, Start, Close, PathStatus]] = []
        if settings.commands_enabled:
            paths.append(
                ("commands", wired.command_loop, wired.close_commands, wired.command_status)
            )
        if settings.offers_enabled:
            paths.append(
                (
                    "offer-sync",
                    wired.offer_sync,
                    wired.close_offer_commands,
                    wired.offer_sync_status,
                )
            )
            paths.append(("offer-events", wired.offer_events, _nothing, wired.offer_events_status))
        return paths

    async def _path(
        self, start: Start, close: Close, status: PathStatus, stop: asyncio.Event
    ) -> None:
        """One path until `stop`. Starting it (joining a consumer group) is retried with a
        backoff while the broker is down: that path waits, the import does not."""
        backoff = Backoff()
        failures = 0
        try:
            while not stop.is_set():
                try:
                    path = await unless_stopped(start(), stop)
                    if path is None:
                        return  # stopped while starting (joining a group takes seconds)
                except PortError as exc:
                    failures += 1
                    delay = backoff.delay(failures)
                    status.consecutive_failures += 1  # seen by /metrics and /readyz
                    status.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning(
                        "a path beside the import did not start, will retry",
                        extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_seconds": delay},
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                    continue
                await path.run(stop)
                return
        except Exception as exc:
            # Seen by /readyz (degraded) and /metrics until the next term starts it again.
            status.consecutive_failures += 1
            status.last_error = f"stopped on an unexpected {type(exc).__name__}"
            log.exception("a path beside the import stopped on an unexpected error")
            raise
        finally:
            await close()

    async def _measure(self, probe: LagProbe, stop: asyncio.Event) -> None:
        """Every `LAG_PROBE_SECONDS`, starting one period in: a restart costs no request."""
        period = self._settings.lag_probe_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=period)
            if stop.is_set():
                return
            if self.health is not None:
                with contextlib.suppress(PortError):
                    await self.health.refresh_token_expiry()
            await measure_lag(self.service, probe)

    async def watch_recovery(self, loop: PollLoop, stop: asyncio.Event) -> None:
        """Wakes the backing-off loop when new tokens are stored or the broker or the state
        store answers again (see `recovery`)."""
        assert self.token_store is not None, "open() first"
        assert self.publisher is not None, "open() first"
        checks = {"broker": self.publisher.healthy, "state_store": self._state_reachable}
        await watch_recovery(loop, stop, self.token_store, self.account, checks)

    async def _state_reachable(self) -> bool:
        assert self.state_store is not None, "open() first"
        await self.state_store.load_cursor(self.account)
        return True

    def _become(self, role: Role) -> None:
        if role != self.service.role:
            log.info("role changed", extra={"account": self.account, "role": str(role)})
        self.service.become(role, self.clock.now())


class _Runs(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


Start = Callable[[], Awaitable[_Runs]]
Close = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    """What closing a path that holds nothing of its own does."""


async def _finish(task: asyncio.Task[None], seconds: float) -> None:
    """`task` ended by itself within `seconds`, else cancelled; its error is logged where it
    happened and not raised here (the term ends either way)."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
    with contextlib.suppress(BaseException):
        await task
