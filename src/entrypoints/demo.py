"""`openoms-allegro demo`: the whole pipeline on one machine, nothing to install.

Simulator (real HTTP on loopback) → the service (the same wiring as `run`) → the embedded
Kafka-compatible broker → a live view that consumes the topics, exactly like a downstream
OMS service would. The demo also plays OpenOMS's other half: once orders are imported it
sends a few commands (README.md, Commands) for them and shows each result and the status
changes they cause; and it keeps the stock and prices of the simulator's offers, showing each
stock or price command, its result and the `OfferChanged` events that come back
(demo_offers.py). Buyer personal data is not printed: a row shows the order id, the amount,
the statuses, and a command's type, status or carrier and made-up waybill only; an offer's row
its id, SKU, stock, price and status.

Ctrl-C (SIGINT to the whole foreground process group) or SIGTERM stops it in this order:
the demo's commands (orders' and offers'), the service (gracefully, as `run` does), the live
view, the broker, the simulator; then the summary is printed. The broker runs in its own session
(sandbox.kafka_broker), so the terminal's SIGINT never reaches it while clients are still
connected.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from adapters.kafka import KafkaConfig, ensure_topics
from adapters.kafka.commands import CE_TYPE_ADD_SHIPMENT, CE_TYPE_SET_FULFILLMENT_STATUS
from adapters.kafka.messages import cloudevent_headers, utc_timestamp
from adapters.persistence import SqliteDatabase, SqliteStateStore
from application.ports import PortError
from domain.statuses import OrderStatus
from entrypoints.containers import kafka_config
from entrypoints.demo_offers import (
    Cells,
    OfferTally,
    changed_row,
    demo_skus,
    is_offer_result,
    operate_offers,
    result_row,
)
from entrypoints.service import serve
from entrypoints.settings import Settings, load_settings
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState, start_live_activity
from sandbox.allegro.server import DEMO_OFFERS, DEMO_SKUS
from sandbox.kafka_broker import EmbeddedBroker

console = Console(highlight=False, soft_wrap=True)

ACCOUNT = "demo"
RATE_LIMIT_PER_MINUTE = 600
LAG_PAGE = 1000  # the lag is counted up to one page of the journal; more shows as "1000+"
HEADER_SPLIT = 5  # in a terminal the header's first line holds the orders' five figures
HEADER_EVERY_SECONDS = 5.0  # without a terminal (piped output) the header is a line this often
VIEWER_DRAIN_SECONDS = 3.0  # after the service stopped: read what it published last
# Each column is labelled once (COLUMNS) and every row uses the same widths.
COLUMNS = ("TIME", "EVENT", "ORDER/OFFER", "AMOUNT/PRICE", "STATUS")
_WIDTHS = (8, 18, 13, 14)
# OpenOMS's part: an order every COMMAND_EVERY_SECONDS, at most COMMAND_ORDERS of them, each
# given PROCESSING, a shipment and SENT, COMMAND_STEP_SECONDS apart so that each status
# change can show up as its own event (the service polls every second).
COMMAND_ORDERS = 5
COMMAND_EVERY_SECONDS = 8.0
COMMAND_STEP_SECONDS = 2.0
COMMAND_SOURCE = "openoms/demo"  # the commands' `ce_source`: they come from "OpenOMS"
DEMO_CARRIER = "INPOST"  # one of the simulator's `GET /order/carriers`
# Orders OpenOMS may still ship: imported in one of these and not moved out of them since.
OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.CONFIRMED, OrderStatus.PROCESSING})


@dataclass
class Tally:
    """What the demo has seen so far: the running header and the closing summary."""

    started: float = field(default_factory=time.monotonic)
    published: Counter[str] = field(default_factory=Counter)
    dead_letters: int = 0
    lag_events: int | None = None  # None: no cursor stored yet
    lag_capped: bool = False
    requests_last_minute: int = 0
    requests_total: int = 0
    commands_sent: int = 0
    results: Counter[str] = field(default_factory=Counter)  # by `result_type`
    # Full checkout form ids of imported orders still in OPEN_STATUSES, oldest first (a dict
    # as an ordered set), and the orders already given commands: each is picked once.
    candidates: dict[str, None] = field(default_factory=dict)
    commanded: set[str] = field(default_factory=set)
    # command_id -> what the command asked ("SetFulfillmentStatus SENT"), for its result row.
    asked: dict[str, str] = field(default_factory=dict)
    offers: OfferTally = field(default_factory=OfferTally)

    def figures(self) -> list[tuple[str, str]]:
        """(label, value) of the running header."""
        lag = "-" if self.lag_events is None else str(self.lag_events)
        succeeded, failed = self.results["CommandSucceeded"], self.results["CommandFailed"]
        return [
            ("orders imported", str(self.published["OrderImported"])),
            ("status changes", str(self.published["OrderStatusChanged"])),
            ("updates", str(self.published["OrderUpdated"])),
            ("commands sent", str(self.commands_sent)),
            ("results", f"{succeeded} ok, {failed} failed"),
            *self.offers.figures(),
            ("dead letters", str(self.dead_letters)),
            ("lag (events)", f"{lag}+" if self.lag_capped else lag),
            ("Allegro req/min", f"{self.requests_last_minute} of {RATE_LIMIT_PER_MINUTE}"),
        ]

    def table(self) -> Group:
        """The header in a terminal: labelled columns over their values, the orders' figures
        over the rest, so that it fits 80 columns."""
        figures = self.figures()
        tables = []
        for part in (figures[:HEADER_SPLIT], figures[HEADER_SPLIT:]):
            table = Table(box=None, header_style="dim", pad_edge=False)
            for label, _ in part:
                table.add_column(label, justify="right")
            table.add_row(*(Text(value, style="bold") for _, value in part))
            tables.append(table)
        return Group(*tables)

    def line(self) -> str:
        """The header as one line, for output that is not a terminal."""
        return " | ".join(f"{label} {value}" for label, value in self.figures())

    def track(self, order_id: str, order_status: object) -> None:
        """An order's latest status: in OPEN_STATUSES (and not commanded yet) it may be picked."""
        if order_id and order_status in OPEN_STATUSES and order_id not in self.commanded:
            self.candidates[order_id] = None
        else:
            self.candidates.pop(order_id, None)

    def next_order(self) -> str | None:
        """The oldest order that may still be shipped, never the same one twice."""
        for order_id in self.candidates:
            del self.candidates[order_id]
            self.commanded.add(order_id)
            return order_id
        return None


async def run_demo(orders: int, duration: float) -> None:
    sim_config = SimulatorConfig(seed=7)
    state = SimulatorState(sim_config)
    state.script_mixed_lifecycles(orders, seed=7)
    # The offers `sandbox serve` seeds: OpenOMS's stock commands act on them, and the live
    # activity sells some now and then.
    state.seed_offers(DEMO_OFFERS, DEMO_SKUS, ["allegro-cz"], seed=7)
    tally = Tally()
    stop = asyncio.Event()
    _on_signals(stop.set)
    with tempfile.TemporaryDirectory(prefix="openoms-demo-") as workdir:
        with SimulatorServer(state) as simulator, EmbeddedBroker() as broker:
            state_file = Path(workdir) / "state.db"
            settings = _demo_settings(
                simulator.url, sim_config, state.initial_refresh_token, broker, state_file
            )
            config = kafka_config(settings)
            await ensure_topics(config)
            _banner(simulator.url, broker.bootstrap_servers, config)
            interrupted = await _pipeline(
                settings, config, state, state_file, tally, stop, duration
            )
            # Leaving the `with` stops the broker only now: the service and the viewer, its
            # only clients, are closed, so nobody logs connection errors about it.
        _summary(tally, interrupted, duration)


async def _pipeline(
    settings: Settings,
    config: KafkaConfig,
    state: SimulatorState,
    state_file: Path,
    tally: Tally,
    stop: asyncio.Event,
    duration: float,
) -> bool:
    """Runs the service and the view until `duration` elapses or a signal; True if signalled."""
    stop_live = threading.Event()
    start_live_activity(state, 1.5, stop_live)
    viewer_stop = asyncio.Event()
    header = _Header(tally)
    viewer = asyncio.create_task(_view(config, tally, viewer_stop, header))
    probe = asyncio.create_task(_probe(state, state_file, tally, header))
    service = asyncio.create_task(serve(settings, stop))
    operator = asyncio.create_task(_operate(config, tally, header))
    stocker = asyncio.create_task(
        operate_offers(config, tally.offers, demo_skus(state), ACCOUNT, header.show)
    )
    signalled = asyncio.create_task(stop.wait())
    try:
        with header:
            await asyncio.wait(
                {service, signalled},
                timeout=duration or None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            interrupted = stop.is_set()
            stop.set()
            stop_live.set()
            # No new commands once stopping; the service, stopped gracefully next, still
            # answers a command it is applying.
            for commander in (operator, stocker):
                commander.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await commander
            # `serve` installs its own SIGINT/SIGTERM handlers; once it returned, a second
            # Ctrl-C must not interrupt the bounded shutdown that follows.
            await service
            _on_signals(lambda: None)
            viewer_stop.set()
            await viewer
    finally:
        for task in (signalled, probe, operator, stocker, viewer, service):
            task.cancel()
        for task in (signalled, probe, operator, stocker, viewer, service):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stop_live.set()
    return interrupted


def _on_signals(callback: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, callback)


def _demo_settings(
    api_url: str,
    sim: SimulatorConfig,
    refresh_token: str,
    broker: EmbeddedBroker,
    state_file: Path,
) -> Settings:
    return load_settings(
        allegro_api_url=api_url,
        allegro_auth_url=f"{api_url}/auth/oauth",
        allegro_client_id=sim.client_id,
        allegro_client_secret=sim.client_secret,
        allegro_refresh_token=refresh_token,
        allegro_account=ACCOUNT,
        allegro_start_from="earliest",
        allegro_rate_limit_per_minute=RATE_LIMIT_PER_MINUTE,
        allegro_rate_limit_burst=20,
        poll_interval_seconds=1.0,
        # Offer changes show up within a second or so, not the production 10 s.
        offer_events_poll_seconds=1.0,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        # The embedded broker (tansu) rejects InitProducerId: no idempotent producer here.
        kafka_enable_idempotence=False,
        state_url=f"sqlite:///{state_file}",
        token_encryption_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        http_port=0,
        log_level="WARNING",
        log_format="text",
    )


def _banner(api_url: str, bootstrap: str, config: KafkaConfig) -> None:
    console.rule("[bold]openoms-allegro demo")
    console.print(f"Allegro simulator  {api_url}")
    console.print(
        f"Kafka (embedded)   {bootstrap}  topics [cyan]{config.topic_orders}[/], "
        f"[cyan]{config.topic_dlq}[/], [cyan]{config.topic_offers}[/]"
    )
    console.print(
        f"OpenOMS (this demo) sends commands to [cyan]{config.topic_commands}[/] and reads "
        f"their results from [cyan]{config.topic_command_results}[/]; stock and prices to "
        f"[cyan]{config.topic_offer_commands}[/]"
    )
    console.print("Ctrl-C stops the service gracefully, then the broker, and prints a summary.\n")
    console.print(_row(*COLUMNS), style="bold")


def _row(time_: str, event: str, order: str, amount: str, status: str) -> str:
    seen, kind, form, money = _WIDTHS
    order = order[:form]
    return f"{time_:<{seen}}  {event:<{kind}}  {order:<{form}}  {amount:>{money}}  {status}"


class _Header:
    """The running header: a live line under the rows in a terminal; without one (output
    piped or captured) the same line printed every `HEADER_EVERY_SECONDS`."""

    def __init__(self, tally: Tally) -> None:
        self._tally = tally
        self._live: Live | None = None
        self._printed_at = time.monotonic()

    def __enter__(self) -> _Header:
        if console.is_terminal:
            self._live = Live(self._tally.table(), console=console, refresh_per_second=4)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._tally.table(), refresh=True)
            self._live.stop()
            self._live = None

    def show(self, cells: Cells, style: str) -> None:
        """One row printed above the header, then the header brought up to date."""
        console.print(_cells(cells, style))
        self.refresh()

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._tally.table())
        elif time.monotonic() - self._printed_at >= HEADER_EVERY_SECONDS:
            self._printed_at = time.monotonic()
            console.print(self._tally.line(), style="bold")


async def _view(config: KafkaConfig, tally: Tally, stop: asyncio.Event, header: _Header) -> None:
    """Consumes the topics as a downstream service would. After `stop` (the service has
    stopped) it keeps reading until a read returns nothing, at most VIEWER_DRAIN_SECONDS."""
    consumer = AIOKafkaConsumer(
        config.topic_orders,
        config.topic_dlq,
        config.topic_command_results,
        config.topic_offers,
        bootstrap_servers=config.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        drain_until: float | None = None
        while True:
            if stop.is_set() and drain_until is None:
                drain_until = time.monotonic() + VIEWER_DRAIN_SECONDS
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    message = json.loads(record.value or b"{}")
                    if record.topic == config.topic_offers:
                        console.print(_cells(*changed_row(tally.offers, message, record.timestamp)))
                        continue
                    if record.topic == config.topic_command_results:
                        if is_offer_result(message):
                            row = result_row(tally.offers, message, record.timestamp)
                            console.print(_cells(*row))
                        else:
                            console.print(_result_line(tally, message, record.timestamp))
                        continue
                    dead = record.topic == config.topic_dlq
                    console.print(_line(tally, dead, message, record.timestamp))
            header.refresh()
            if drain_until is not None and (not batches or time.monotonic() >= drain_until):
                return
    finally:
        await consumer.stop()


def _cells(cells: Cells, style: str) -> Text:
    return Text(_row(*cells), style=style)


def _line(tally: Tally, dead: bool, event: dict[str, object], timestamp_ms: int) -> Text:
    seen = datetime.fromtimestamp(timestamp_ms / 1000).strftime("%H:%M:%S")
    order = str(event.get("external_id") or event.get("checkout_form_id", ""))[: _WIDTHS[2]]
    if dead:
        tally.dead_letters += 1
        # The error's kind only: its text may quote the payload, which holds buyer data.
        kind = str(event.get("error", "")).split(":", 1)[0][:40]
        return Text(_row(seen, "dead letter", order, "", kind), style="red")
    kind = str(event.get("event_type", "?"))
    tally.published[kind] += 1
    if kind in ("OrderImported", "OrderStatusChanged"):
        tally.track(str(event.get("external_id") or ""), event.get("order_status"))
    if kind == "OrderImported":
        amount = f"{event.get('total_amount')} {event.get('currency')}"
        status = f"{event.get('order_status')}/{event.get('payment_status')}"
        return Text(_row(seen, kind, order, amount, status), style="green")
    if kind == "OrderUpdated":
        # The names of the fields that changed, never their values (buyer data).
        changed = event.get("changed")
        names = ", ".join(str(name) for name in changed) if isinstance(changed, list) else "?"
        return Text(_row(seen, kind, order, "", names), style="cyan")
    status = f"{event.get('previous_status')} → {event.get('order_status')} ({event.get('reason')})"
    return Text(_row(seen, kind, order, "", status), style="yellow")


def _result_line(tally: Tally, result: dict[str, object], timestamp_ms: int) -> Text:
    """A command's result: what the command asked and, if it failed, why (the reason, and
    Allegro's error code or the order's status now; never the message, which may quote
    anything the command carried)."""
    seen = datetime.fromtimestamp(timestamp_ms / 1000).strftime("%H:%M:%S")
    order = str(result.get("checkout_form_id") or "")[: _WIDTHS[2]]
    kind = str(result.get("result_type", "?"))
    tally.results[kind] += 1
    asked = tally.asked.get(str(result.get("command_id")), str(result.get("command_type") or "?"))
    if kind == "CommandSucceeded":
        return Text(_row(seen, kind, order, "", asked), style="green")
    why = str(result.get("reason") or "?")
    if result.get("code"):
        why += f" ({result['code']})"
    elif result.get("current_status"):
        why += f" (now {result['current_status']})"
    return Text(_row(seen, kind, order, "", f"{asked}: {why}"), style="red")


def _commands(order_id: str, serial: int) -> list[dict[str, object]]:
    """What OpenOMS sends to ship one order: PROCESSING, a shipment with a made-up waybill
    (unique per order, so no two orders share one), then SENT."""

    def command(command_type: str, **fields: object) -> dict[str, object]:
        return {
            "command_id": str(uuid.uuid4()),
            "command_type": command_type,
            "account": ACCOUNT,
            "checkout_form_id": order_id,
            **fields,
        }

    return [
        command("SetFulfillmentStatus", status="PROCESSING"),
        command("AddShipment", carrier_id=DEMO_CARRIER, waybill=f"DEMO{serial:07d}"),
        command("SetFulfillmentStatus", status="SENT"),
    ]


def _command_record(command: dict[str, object]) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key (the order, so its commands stay in order), value and CloudEvents headers."""
    order_id = str(command["checkout_form_id"])
    ce_type = (
        CE_TYPE_ADD_SHIPMENT
        if command["command_type"] == "AddShipment"
        else CE_TYPE_SET_FULFILLMENT_STATUS
    )
    headers = cloudevent_headers(
        ce_id=str(command["command_id"]),
        source=COMMAND_SOURCE,
        ce_type=ce_type,
        subject=order_id,
        time=utc_timestamp(datetime.now(UTC)),
    )
    return order_id.encode(), json.dumps(command).encode(), headers


def _sent_line(tally: Tally, command: dict[str, object]) -> Text:
    """A command just sent; remembers what it asked for the row of its result."""
    tally.commands_sent += 1
    if command["command_type"] == "AddShipment":
        asked = f"AddShipment {command['carrier_id']} {command['waybill']}"
    else:
        asked = f"{command['command_type']} {command['status']}"
    tally.asked[str(command["command_id"])] = asked
    seen = datetime.now().strftime("%H:%M:%S")
    order = str(command["checkout_form_id"])[: _WIDTHS[2]]
    return Text(_row(seen, "command sent", order, "", asked), style="magenta")


async def _operate(config: KafkaConfig, tally: Tally, header: _Header) -> None:
    """OpenOMS's part: once an imported order may still be shipped, every
    COMMAND_EVERY_SECONDS one is given its commands, COMMAND_ORDERS orders at most. Ends
    when done or cancelled (the demo stops)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=config.bootstrap_servers,
        # The embedded broker (tansu) rejects InitProducerId: no idempotent producer here.
        enable_idempotence=False,
    )
    await producer.start()
    try:
        for serial in range(1, COMMAND_ORDERS + 1):
            order_id = tally.next_order()
            while order_id is None:
                await asyncio.sleep(0.5)
                order_id = tally.next_order()
            started = time.monotonic()
            for step, command in enumerate(_commands(order_id, serial)):
                if step:
                    await asyncio.sleep(COMMAND_STEP_SECONDS)
                key, value, headers = _command_record(command)
                await producer.send_and_wait(config.topic_commands, value, key=key, headers=headers)
                console.print(_sent_line(tally, command))
                header.refresh()
            await asyncio.sleep(max(0.0, started + COMMAND_EVERY_SECONDS - time.monotonic()))
    finally:
        await producer.stop()


async def _probe(state: SimulatorState, path: Path, tally: Tally, header: _Header) -> None:
    """Once a second: the lag (journal events after the service's stored cursor, read from
    its state file without writing) and the Allegro requests of the last minute."""
    store: SqliteStateStore | None = None
    try:
        while True:
            # The service creates the file; until then there is no cursor to read.
            if store is None and await asyncio.to_thread(path.is_file):
                with contextlib.suppress(PortError):
                    store = SqliteStateStore(await SqliteDatabase.open(path, access="read_only"))
            if store is not None:
                with contextlib.suppress(PortError):
                    await _measure_lag(state, store, tally)
            log = state.request_log
            now = state.clock.monotonic()
            tally.requests_total = len(log)
            tally.requests_last_minute = sum(1 for entry in log if now - entry.monotonic < 60)
            header.refresh()
            await asyncio.sleep(1.0)
    finally:
        if store is not None:
            await store.aclose()


async def _measure_lag(state: SimulatorState, store: SqliteStateStore, tally: Tally) -> None:
    cursor = await store.load_cursor(ACCOUNT)
    if cursor is None:
        return
    after = int(cursor.position) if cursor.position is not None else None
    pending = await asyncio.to_thread(state.events_page, after, None, LAG_PAGE)
    tally.lag_events, tally.lag_capped = len(pending), len(pending) >= LAG_PAGE


def _summary(tally: Tally, interrupted: bool, duration: float) -> None:
    elapsed = time.monotonic() - tally.started
    how = "interrupted" if interrupted else f"{duration:g} s elapsed"
    console.print()
    console.print(f"[bold]demo finished[/] ({how}, ran {elapsed:.1f} s)")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("published")
    table.add_column("count", justify="right")
    for kind in ("OrderImported", "OrderStatusChanged", "OrderUpdated"):
        table.add_row(kind, str(tally.published[kind]))
    table.add_row("commands sent", str(tally.commands_sent))
    for kind in ("CommandSucceeded", "CommandFailed"):
        table.add_row(kind, str(tally.results[kind]))
    table.add_row("offer commands sent", str(tally.offers.commands_sent))
    for kind in ("CommandSucceeded", "CommandFailed"):
        table.add_row(f"offer {kind}", str(tally.offers.results[kind]))
    table.add_row("OfferChanged", str(tally.offers.changes))
    table.add_row("dead letters", str(tally.dead_letters))
    table.add_row("Allegro requests", str(tally.requests_total))
    console.print(table)
