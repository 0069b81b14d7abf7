"""The typed face of the composition root: what every command, the service and the tests
take their objects from.

`entrypoints/containers.py` declares how the objects are made; `Wired` hands them out typed,
and is the only code that talks to dependency-injector's providers. Every provider it hands out
is switched into dependency-injector's async mode, in which a provider always returns an
awaitable (whether its dependencies are async resources, sync ones, or overridden by a test
with a plain object), so each accessor is one `await provider.async_()`.

The state backend is chosen once, from `STATE_URL`, by the container's `backend` provider:
`backend` / `postgres` say which, and nothing else branches on the URL. Resources stay lazy:
only what an accessor asked for is opened (with SQLite no PostgreSQL pool, with PostgreSQL no
file; a read-only tool opens no Kafka producer and no Allegro client), and `shutdown()` closes
exactly what was opened.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable

from dependency_injector import providers

from adapters.allegro import AllegroClient
from adapters.kafka import AiokafkaEventPublisher
from adapters.persistence import LeaseFence, PostgresLease, SqliteWriterLock
from application.command_loop import CommandLoop, CommandStatus
from application.offer_events import OfferEvents, OfferEventsStatus
from application.offer_sync import OfferSync, OfferSyncStatus
from application.poll_loop import LoopStatus, PollLoop
from application.ports import EventPublisher
from application.ports.clock import Clock
from application.ports.offers import OfferStore
from application.ports.state import StateStore, TokenStore
from entrypoints.assembly import OrderImport
from entrypoints.containers import Application, Backend, build_container
from entrypoints.health import ServiceState
from entrypoints.metrics import Metrics
from entrypoints.settings import Settings


class Wired:
    """One container, typed. `read_only`: for the tools that only look (`status`, `check`,
    `cursor show`, `dead-letters list`): stores that create, migrate and lock nothing."""

    def __init__(self, settings: Settings, *, read_only: bool = False) -> None:
        self.settings = settings
        self.read_only = read_only
        # For a test that overrides a provider (tests/faults/test_failpoints.py); production
        # code uses the accessors below.
        self.container: Application = build_container(settings, read_only=read_only)
        self._core = self.container.core.container
        self._gateways = self.container.gateways.container
        self._use_cases = self.container.use_cases.container
        self.backend: Backend = self._gateways.backend()
        # Async mode (module docstring): on every resource, so that closing one returns an
        # awaitable even when it was never opened, and on every provider handed out.
        for resource in self.container.traverse(types=[providers.Resource]):
            resource.enable_async_mode()
        for provider in (
            self._gateways.state_store,
            self._gateways.token_store,
            self._gateways.publisher,
            self._use_cases.order_import,
            self._use_cases.poll_loop,
            self._use_cases.command_loop,
            self._gateways.offer_store,
            self._use_cases.offer_sync,
            self._use_cases.offer_events,
        ):
            provider.enable_async_mode()

    @property
    def postgres(self) -> bool:
        """PostgreSQL (lease, fenced commits) rather than SQLite (the file's writer lock)."""
        return self.backend == "postgres"

    # Process-wide singletons: plain objects, no I/O.

    @property
    def clock(self) -> Clock:
        return self._core.clock()

    @property
    def metrics(self) -> Metrics:
        return self._core.metrics()

    @property
    def loop_status(self) -> LoopStatus:
        return self._core.loop_status()

    @property
    def service_state(self) -> ServiceState:
        return self._core.service_state()

    @property
    def fence(self) -> LeaseFence:
        return self._core.fence()

    # Resources: opened on first use, closed by `shutdown()`.

    async def state_store(self) -> StateStore:
        return await self._gateways.state_store.async_()

    async def offer_store(self) -> OfferStore:
        return await self._gateways.offer_store.async_()

    async def token_store(self) -> TokenStore:
        return await self._gateways.token_store.async_()

    async def kafka_publisher(self) -> AiokafkaEventPublisher:
        """The producer itself: its health check, and what shutdown stops."""
        return await self._gateways.kafka_publisher.async_()

    async def publisher(self) -> EventPublisher:
        """What the use cases publish through (the producer, unless a test wrapped it)."""
        return await self._gateways.publisher.async_()

    async def allegro(self) -> AllegroClient:
        """The current term's client (entrypoints/runtime.py); `close_allegro()` ends it."""
        return await self._gateways.allegro.async_()

    async def writer_lock(self) -> SqliteWriterLock | None:
        """SQLite's writer lock (None for an in-memory database)."""
        return await self._gateways.writer_lock.async_()

    async def leases(self) -> PostgresLease:
        return await self._gateways.leases.async_()

    # Use cases: a new one per call, over the resources above.

    async def order_import(self) -> OrderImport:
        """The account's use cases (`sync`, `sweep`, `reconciler`) sharing one pipeline."""
        return await self._use_cases.order_import.async_()

    async def poll_loop(self) -> PollLoop:
        """The loop of one term of polling, around its own `OrderImport`."""
        return await self._use_cases.poll_loop.async_()

    async def command_loop(self) -> CommandLoop:
        """The term's command path: joins the account's consumer group (`close_commands()`
        leaves it)."""
        return await self._use_cases.command_loop.async_()

    async def close_commands(self) -> None:
        await _awaitable(self._gateways.command_source.shutdown())

    @property
    def command_status(self) -> CommandStatus:
        return self._core.command_status()

    async def offer_sync(self) -> OfferSync:
        """The term's inventory path: joins the account's offer command group
        (`close_offer_commands()` leaves it)."""
        return await self._use_cases.offer_sync.async_()

    async def close_offer_commands(self) -> None:
        await _awaitable(self._gateways.offer_command_source.shutdown())

    async def offer_events(self) -> OfferEvents:
        """The term's offer events path, over the term's Allegro client."""
        return await self._use_cases.offer_events.async_()

    @property
    def offer_sync_status(self) -> OfferSyncStatus:
        return self._core.offer_sync_status()

    @property
    def offer_events_status(self) -> OfferEventsStatus:
        return self._core.offer_events_status()

    async def close_allegro(self) -> None:
        """Ends the term's Allegro client; the next `allegro()` builds a new one."""
        await _awaitable(self._gateways.allegro.shutdown())

    async def shutdown(self) -> None:
        """Closes every resource that was opened, dependents first."""
        await _awaitable(self.container.shutdown_resources())


def _awaitable(closing: Awaitable[None] | None) -> Awaitable[None]:
    # dependency-injector types these as optional: a resource in async mode (all of ours,
    # see `Wired.__init__`) always returns an awaitable, opened or not.
    assert closing is not None, "resources are in async mode"
    return closing


@contextlib.asynccontextmanager
async def opened(settings: Settings, *, read_only: bool = False) -> AsyncIterator[Wired]:
    """The wiring every command works in; what it opened is closed on the way out, however
    the command ends. `read_only`: stores that create, migrate and lock nothing."""
    wired = Wired(settings, read_only=read_only)
    try:
        yield wired
    finally:
        await wired.shutdown()
