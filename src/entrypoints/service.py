"""`openoms-allegro run`: the wired service, its HTTP endpoint and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from adapters.persistence import redact_url
from adapters.persistence.missing import StateMissing
from application.ports.errors import StateStoreError
from application.sweep import Progress, SweepOutcome
from application.sync_orders import BatchOutcome
from entrypoints.errors import StartupError
from entrypoints.http import HttpEndpoint, bind_listeners, create_app
from entrypoints.leadership import Lead
from entrypoints.runtime import Runtime
from entrypoints.settings import ConfigurationError, Settings
from entrypoints.wiring import Wired, opened

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
    async def of(cls, outcomes: AsyncIterator[BatchOutcome]) -> DrainSummary:
        """Counts only: a backlog of any length costs the memory of one batch."""
        summary = cls(0, 0, 0, 0, 0, None)
        async for o in outcomes:
            summary = cls(
                batches=summary.batches + 1,
                events=summary.events + o.events_read,
                orders=summary.orders + o.orders_read,
                published=summary.published + len(o.published),
                dead_lettered=summary.dead_lettered + len(o.dead_letters),
                cursor=o.cursor.position if o.cursor else None,
            )
        return summary


def check_run_settings(settings: Settings) -> None:
    settings.require_kafka()
    if settings.token_encryption_key is None:
        raise ConfigurationError(
            "TOKEN_ENCRYPTION_KEY is required: OAuth tokens are stored encrypted "
            "(generate one with `openoms-allegro auth generate-key`)"
        )


async def require_tokens(settings: Settings) -> None:
    """`run`, `run --once` and `backfill` cannot do anything without a refresh token: one from
    `ALLEGRO_REFRESH_TOKEN`, or tokens stored by `auth login`. Looks without creating the state
    (a read-only container); a store that exists but cannot be read yet (an older schema, a
    token key that does not open the tokens) is left to the command, which reports it."""
    if settings.allegro_refresh_token is not None:
        return
    try:
        async with opened(settings, read_only=True) as wired:
            tokens = await wired.token_store()
            stored = await tokens.load(settings.allegro_account) is not None
    except StateMissing:
        stored = False
    except StateStoreError:
        stored = True
    if not stored:
        raise StartupError(
            f"no tokens stored for account {settings.allegro_account} in "
            f"{redact_url(settings.state_url)} (STATE_URL): run `openoms-allegro auth login` "
            "(or set ALLEGRO_REFRESH_TOKEN)"
        )


async def check_writer(settings: Settings) -> None:
    """What `run --once` and `backfill` check before they open anything: the settings they
    need and a refresh token. The CLI calls it before it draws a progress bar."""
    check_run_settings(settings)
    await require_tokens(settings)


async def drain_once(settings: Settings) -> DrainSummary:
    """`run --once`. With PostgreSQL it takes the lease for the drain, waiting for it up to
    `LEASE_WAIT_SECONDS`."""
    await check_writer(settings)
    async with opened(settings) as wired:
        return await exclusively(wired, "run --once", lambda _: _drain(wired))


async def _drain(wired: Wired) -> DrainSummary:
    imports = await wired.order_import()  # one pipeline for the repair and the drain
    cursor = await imports.sync.cursor()  # placed first (if new): a stale start can be repaired
    repaired = await imports.reconciler.repair_stale_cursor(cursor)
    summary = await DrainSummary.of(imports.sync.batches())
    if repaired is not None:
        summary = dataclasses.replace(
            summary,
            orders=summary.orders + repaired.seen,
            published=summary.published + repaired.published,
            dead_lettered=summary.dead_lettered + len(repaired.dead_letters),
        )
    return summary


async def backfill(
    settings: Settings, since: datetime, until: datetime, progress: Progress
) -> SweepOutcome:
    """Import existing orders bought in [since, until]. The cursor is initialised first (if
    new) so that `run` continues from the moment the backfill started, and never moved.
    With PostgreSQL it takes the lease for the sweep, waiting for it up to `LEASE_WAIT_SECONDS`."""
    await check_writer(settings)
    async with opened(settings) as wired:

        async def sweep(_: asyncio.Event) -> SweepOutcome:
            imports = await wired.order_import()
            await imports.sync.cursor()
            return await imports.sweep.run(since, until, progress)

        return await exclusively(wired, "backfill", sweep)


async def exclusively(wired: Wired, command: str, work: Lead[T]) -> T:
    """Runs a one-shot command as the account's only writer: under the lease (PostgreSQL,
    waited for up to `LEASE_WAIT_SECONDS`) or the state file's writer lock (SQLite, which
    fails at once while another process holds it). `wired.settings` are the command's."""
    runtime = Runtime(wired)
    if not wired.postgres:
        return await (await runtime.single_writer()).exclusively(command, work)
    await wired.state_store()  # opened (and migrated) before the lease
    return await (await runtime.leadership()).exclusively(work)


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Poll until SIGTERM/SIGINT. The first signal stops reading at once (what was read but
    not committed is read again after a restart) and lets only a publish + commit under way
    complete; a second one abandons even that (what is staged is re-sent at the next start).

    With PostgreSQL, replicas wait on standby while another one holds the lease.

    The HTTP port is bound first and the tokens looked for next: either failing is one line
    (StartupError) before the state store, Kafka or Allegro is touched."""
    check_run_settings(settings)
    stop = stop or asyncio.Event()
    listeners = bind_listeners(settings.http_host, settings.http_port) if settings.http_port else []
    try:
        await require_tokens(settings)
    except BaseException:
        _close(listeners)
        raise
    wired = Wired(settings)
    runtime = Runtime(wired)
    endpoint: HttpEndpoint | None = None
    try:
        health = await runtime.open()
        if listeners:
            app = create_app(runtime.metrics, health.readiness)
            endpoint = HttpEndpoint(
                app, settings.http_host, settings.http_port, listeners=listeners
            )
            await endpoint.start()
        task = asyncio.create_task(runtime.run(stop))
        _install_signals(stop, task)
        log.info(
            "service started",
            extra={"account": settings.allegro_account, "http_port": endpoint and endpoint.port},
        )
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        if endpoint is not None:
            await endpoint.stop()
        else:
            _close(listeners)  # bound, never served: runtime.open() failed
        await wired.shutdown()
        log.info("service stopped", extra={"account": settings.allegro_account})


def _close(listeners: list[socket.socket]) -> None:
    for listener in listeners:
        listener.close()


def _install_signals(stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            log.warning(
                "second signal: abandoning the commit in flight (re-sent at the next start)"
            )
            task.cancel()
        else:
            log.info("signal received: stopping (a publish and commit under way completes)")
            stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
