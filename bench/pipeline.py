"""The service side of a benchmark: the real adapters, wired like `openoms-allegro run`.

Allegro client (httpx, token bucket, OAuth against the simulator) → `SyncOrders` →
aiokafka producer (acks=all) on the embedded broker → SQLite state store on a temp file.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import SimInfo

from adapters.allegro import AllegroClient, AllegroClientConfig, build_allegro_client
from adapters.kafka import AiokafkaEventPublisher, KafkaConfig, ensure_topics
from adapters.persistence import MemoryTokenStore, SqliteStateStore
from application.ports import EventPublisher, SystemClock
from application.ports.publisher import ORDERS, DeadLetter, OutboundMessage
from application.sweep import SweepCheckoutForms
from application.sync_orders import SyncOrders, SyncSettings
from domain.events import DomainEvent, OrderImported
from domain.policy import ImportPolicy
from entrypoints.assembly import OrderImport, order_import
from entrypoints.settings import Settings

ACCOUNT = "bench"
UNLIMITED_BUCKET = (10**9, 10**6)  # per minute, burst: the client never waits
BATCH_PAGES = Settings.model_fields["batch_pages"].default  # as the service runs


@dataclass(slots=True)
class ProbePublisher(EventPublisher):
    """The real publisher, plus what a benchmark needs: counts and ack latencies."""

    inner: EventPublisher
    imported: int = 0
    published: int = 0
    dead_letters: int = 0
    keep_latencies: bool = True
    latencies: list[float] = field(default_factory=list)  # ack time - payment time, seconds
    _imports: dict[str, float] = field(default_factory=dict)  # encoded, not yet acked
    _acked: asyncio.Event = field(default_factory=asyncio.Event)

    def encode(
        self, events: Sequence[DomainEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        for event in events:
            if isinstance(event, OrderImported):
                self._imports[str(event.event_id)] = event.occurred_at.timestamp()
        return self.inner.encode(events, dead_letters)

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        await self.inner.send(messages)
        acked = time.time()
        for message in messages:
            if message.channel != ORDERS:
                self.dead_letters += 1
                continue
            self.published += 1
            paid_at = self._imports.pop(_header(message, "ce_id"), None)
            if paid_at is not None:
                self.imported += 1
                if self.keep_latencies:
                    self.latencies.append(acked - paid_at)
        self._acked.set()

    async def wait_imported(self, count: int) -> None:
        """Until `count` orders were imported (callers bound it with `asyncio.timeout`)."""
        while self.imported < count:
            self._acked.clear()
            await self._acked.wait()


def _header(message: OutboundMessage, name: str) -> str:
    return next((v.decode() for k, v in message.headers if k == name), "")


@dataclass(slots=True)
class Pipeline:
    client: AllegroClient
    publisher: ProbePublisher
    state: SqliteStateStore
    policy: ImportPolicy

    def imports(
        self, *, bulk: bool = True, batch_size: int = 1000, pages: int = BATCH_PAGES
    ) -> OrderImport:
        """The account's use cases, wired by the service's own assembly."""
        return order_import(
            self.client.journal,
            self.client.forms,
            self.publisher,
            self.state,
            self.policy,
            SyncSettings(
                account=ACCOUNT,
                start_from="earliest",
                batch_size=batch_size,
                pages_per_batch=pages,
                bulk_reads=bulk,
            ),
            SystemClock(),
        )

    def sync(self, *, bulk: bool, batch_size: int = 1000, pages: int = BATCH_PAGES) -> SyncOrders:
        return self.imports(bulk=bulk, batch_size=batch_size, pages=pages).sync

    def sweep(self) -> SweepCheckoutForms:
        return self.imports().sweep


async def fresh_topics(bootstrap_servers: str, name: str, **config: Any) -> KafkaConfig:
    """A producer config on two new topics (`bench.<name>.<suffix>` and its dead letters)."""
    suffix = uuid.uuid4().hex[:8]
    kafka = KafkaConfig(
        bootstrap_servers=bootstrap_servers,
        topic_orders=f"bench.{name}.{suffix}",
        topic_dlq=f"bench.{name}.dlq.{suffix}",
        enable_idempotence=False,  # the embedded broker (tansu) rejects InitProducerId
        **config,
    )
    await ensure_topics(kafka)
    return kafka


@asynccontextmanager
async def pipeline(
    sim: SimInfo,
    refresh_token: str,
    bootstrap_servers: str,
    workdir: Path,
    *,
    per_minute: int = UNLIMITED_BUCKET[0],
    burst: int = UNLIMITED_BUCKET[1],
) -> AsyncIterator[Pipeline]:
    """A fresh state file and a fresh topic: every run starts from an empty service."""
    kafka = await fresh_topics(bootstrap_servers, "orders")
    suffix = kafka.topic_orders.rsplit(".", 1)[-1]
    config = AllegroClientConfig(
        api_url=sim.url,
        auth_url=f"{sim.url}/auth/oauth",
        client_id=sim.client_id,
        client_secret=sim.client_secret,
        account=ACCOUNT,
        initial_refresh_token=refresh_token,
        rate_limit_per_minute=per_minute,
        rate_limit_burst=burst,
    )
    async with (
        build_allegro_client(config, MemoryTokenStore()) as client,
        AiokafkaEventPublisher(kafka) as publisher,
        await SqliteStateStore.open(workdir / f"state-{suffix}.db") as state,
    ):
        yield Pipeline(client, ProbePublisher(publisher), state, ImportPolicy(account=ACCOUNT))
