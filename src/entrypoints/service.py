"""`openoms-allegro run`: the wired service, its HTTP endpoint and graceful shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import contextlib
import logging
import signal
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from application.poll_loop import PollLoop
from application.reconcile import Reconciler
from application.sweep import Progress, SweepCheckoutForms, SweepOutcome
from application.sync_orders import BatchOutcome, SyncOrders
from entrypoints.containers import Application, build_container
from entrypoints.http import HttpEndpoint, create_app
from entrypoints.settings import ConfigurationError, Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DrainSummary:
    batches: int
    events: int
    orders: int
    published: int
    dead_lettered: int
    cursor: str | None

    @classmethod
    def of(cls, outcomes: list[BatchOutcome]) -> DrainSummary:
        last = outcomes[-1].cursor if outcomes else None
        return cls(
            batches=len(outcomes),
            events=sum(o.events_read for o in outcomes),
            orders=sum(o.orders_read for o in outcomes),
            published=sum(len(o.published) for o in outcomes),
            dead_lettered=sum(len(o.dead_letters) for o in outcomes),
            cursor=last.position if last else None,
        )


def check_run_settings(settings: Settings) -> None:
    settings.require_kafka()
    if settings.token_encryption_key is None:
        raise ConfigurationError(
            "TOKEN_ENCRYPTION_KEY is required: OAuth tokens are stored encrypted "
            "(generate one with `openoms-allegro auth generate-key`)"
        )


async def resolve(value: Awaitable[T] | T) -> T:
    """dependency-injector returns a future when async resources are involved."""
    if isinstance(value, Awaitable):
        return await value
    return value


async def drain_once(settings: Settings) -> DrainSummary:
    check_run_settings(settings)
    container = build_container(settings)
    try:
        sync: SyncOrders = await resolve(container.use_cases.sync_orders())
        await sync.cursor()  # placed first, so a stale start can be repaired
        reconciler: Reconciler = await resolve(container.use_cases.reconciler())
        repaired = await reconciler.repair_stale_cursor()
        summary = DrainSummary.of(await sync.drain())
        if repaired is not None:
            summary = dataclasses.replace(
                summary,
                orders=summary.orders + repaired.seen,
                published=summary.published + len(repaired.published),
                dead_lettered=summary.dead_lettered + len(repaired.dead_letters),
            )
        return summary
    finally:
        await resolve(container.shutdown_resources())


async def backfill(
    settings: Settings, since: datetime, until: datetime, progress: Progress
) -> SweepOutcome:
    """Import existing orders bought in [since, until]. The cursor is initialised first (if
    new) so that `run` continues from the moment the backfill started, and never moved."""
    check_run_settings(settings)
    container = build_container(settings)
    try:
        sync: SyncOrders = await resolve(container.use_cases.sync_orders())
        await sync.cursor()
        sweep: SweepCheckoutForms = await resolve(container.use_cases.sweep())
        return await sweep.run(since, until, progress)
    finally:
        await resolve(container.shutdown_resources())


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Poll until SIGTERM/SIGINT. The first signal stops between batches (a batch in flight
    finishes, or commits nothing); a second one abandons the batch at once."""
    check_run_settings(settings)
    stop = stop or asyncio.Event()
    container = build_container(settings)
    endpoint: HttpEndpoint | None = None
    try:
        loop: PollLoop = await resolve(container.use_cases.poll_loop())
        if settings.http_port:
            endpoint = HttpEndpoint(
                create_app(container.core.metrics(), _readiness(container)),
                "0.0.0.0",
                settings.http_port,
            )
            await endpoint.start()
        task = asyncio.create_task(loop.run(stop))
        _install_signals(stop, task)
        log.info("service started", extra={"account": settings.allegro_account})
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        if endpoint is not None:
            await endpoint.stop()
        await resolve(container.shutdown_resources())
        log.info("service stopped", extra={"account": settings.allegro_account})


def _install_signals(stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            log.warning("second signal: abandoning the batch in flight (cursor not advanced)")
            task.cancel()
        else:
            log.info("signal received: stopping after the batch in flight")
            stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)


def _readiness(container: Application) -> Any:
    status = container.core.loop_status()

    async def check() -> dict[str, bool]:
        healthy_poll = status.consecutive_failures < 5
        return {"polling": healthy_poll}

    return check
