"""`openoms-allegro demo`: the whole pipeline on one machine, nothing to install.

Simulator (real HTTP on loopback) → the service (the same wiring as `run`) → the embedded
Kafka-compatible broker → a live view that consumes the topic, exactly like a downstream
OMS service would. Buyer personal data is not printed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import tempfile
import threading
import time

from aiokafka import AIOKafkaConsumer
from rich.console import Console

from adapters.kafka import EmbeddedBroker, KafkaConfig, ensure_topics
from adapters.simulator import SimulatorConfig, SimulatorServer, SimulatorState, start_live_activity
from entrypoints.containers import kafka_config
from entrypoints.service import serve
from entrypoints.settings import Settings, load_settings

console = Console(highlight=False, soft_wrap=True)


async def run_demo(orders: int, duration: float) -> None:
    sim_config = SimulatorConfig(seed=7)
    state = SimulatorState(sim_config)
    state.script_mixed_lifecycles(orders, seed=7)
    stop_live = threading.Event()
    with (
        SimulatorServer(state) as simulator,
        EmbeddedBroker() as broker,
        tempfile.TemporaryDirectory(prefix="openoms-demo-") as workdir,
    ):
        settings = _demo_settings(
            simulator.url, sim_config, state.initial_refresh_token, broker, workdir
        )
        config = kafka_config(settings)
        await ensure_topics(config)
        _banner(simulator.url, broker.bootstrap_servers, config)
        start_live_activity(state, 1.5, stop_live)
        stop = asyncio.Event()
        viewer = asyncio.create_task(_view(config, stop))
        service = asyncio.create_task(serve(settings, stop))
        try:
            await _until(stop, duration, service)
        finally:
            stop.set()
            stop_live.set()
            await service
            viewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await viewer
        ran = f"{duration} s" if duration else "interrupted"
        console.print(f"[bold]demo finished[/] ({ran})")


def _demo_settings(
    api_url: str, sim: SimulatorConfig, refresh_token: str, broker: EmbeddedBroker, workdir: str
) -> Settings:
    return load_settings(
        allegro_api_url=api_url,
        allegro_auth_url=f"{api_url}/auth/oauth",
        allegro_client_id=sim.client_id,
        allegro_client_secret=sim.client_secret,
        allegro_refresh_token=refresh_token,
        allegro_account="demo",
        allegro_start_from="earliest",
        allegro_rate_limit_per_minute=600,
        allegro_rate_limit_burst=20,
        poll_interval_seconds=1.0,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        # The embedded broker (tansu) rejects InitProducerId: no idempotent producer here.
        kafka_enable_idempotence=False,
        state_url=f"sqlite:///{workdir}/state.db",
        token_encryption_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        http_port=0,
        log_level="WARNING",
        log_format="text",
    )


async def _until(stop: asyncio.Event, duration: float, service: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + duration if duration else None
    while not stop.is_set() and not service.done():
        if deadline is not None and time.monotonic() >= deadline:
            return
        await asyncio.sleep(0.2)


def _banner(api_url: str, bootstrap: str, config: KafkaConfig) -> None:
    console.rule("[bold]openoms-allegro demo")
    console.print(f"Allegro simulator  {api_url}")
    console.print(f"Kafka (embedded)   {bootstrap}  topic [cyan]{config.topic_orders}[/]")
    console.print("Ctrl-C stops the service gracefully.\n")


async def _view(config: KafkaConfig, stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        config.topic_orders,
        config.topic_dlq,
        bootstrap_servers=config.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    counts: dict[str, int] = {}
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value or b"{}")
                    kind = event.get("event_type", "DeadLetter")
                    counts[kind] = counts.get(kind, 0) + 1
                    console.print(_line(kind, event))
    finally:
        await consumer.stop()
        console.print(f"published: {counts}")


def _line(kind: str, event: dict[str, object]) -> str:
    order = str(event.get("external_id") or event.get("checkout_form_id", ""))[:13]
    if kind == "OrderImported":
        items = event.get("line_items")
        count = len(items) if isinstance(items, list) else 0
        return (
            f"[green]OrderImported[/]      {order}  {event.get('marketplace')}  "
            f"{event.get('total_amount')} {event.get('currency')}  {count} item(s)  "
            f"{event.get('order_status')}/{event.get('payment_status')}"
        )
    if kind == "OrderStatusChanged":
        return (
            f"[yellow]OrderStatusChanged[/] {order}  {event.get('previous_status')} → "
            f"{event.get('order_status')}  ({event.get('reason')})"
        )
    return f"[red]dead letter[/]        {order}  {event.get('error')}"
