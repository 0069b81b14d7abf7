"""`openoms-allegro status`: who writes, cursor, lag behind event-stats, token expiry, errors,
and the command path (on or off, its topic and consumer group, how far the group is behind).

It reads the state store, and asks Allegro for `/order/event-stats` with the stored
access token only: `status` never refreshes (and so never rotates) a token, which only
the polling replica may do. When the access token is about to expire, the lag is left
unmeasured and the report says why.

It answers within a few seconds whatever its dependencies do (issue 12, item 3): the state
store part has a deadline (STATE_DEADLINE_SECONDS; a PostgreSQL that accepts connections
and never answers included), and Allegro is asked once, without retries, with a short
timeout per request (adapters/allegro/probe.py) and an overall deadline. When Allegro
cannot be reached, the report says so ("Allegro: no answer within 2 s", "Allegro:
unreachable (connection refused)") and still shows what the state store holds. The command
group's offsets are read from Kafka beside Allegro's part, with a deadline of their own
(KAFKA_DEADLINE_SECONDS), and only read: `status` joins no group and creates no topic.

Exit codes (`openoms-allegro status`): 0 whenever the report was produced, even when Allegro
did not answer (that is a fact the report states, in the table and under `allegro` in
`--json`); 1 when the state store cannot be read (nothing to report: one line says why);
2 for bad configuration.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from adapters.allegro.probe import (
    PROBE_TIMEOUT_SECONDS,
    AccessOnlyTokens,
    describe_answer,
    describe_failure,
    probe_client,
)
from adapters.kafka.config import KafkaConfig, connection_options
from adapters.persistence import redact_url
from application.ports.clock import Clock, SystemClock
from application.ports.errors import AllegroAuthError, PortError, StateStoreError
from application.ports.state import (
    Cursor,
    ErrorReport,
    StateStore,
    TokenPair,
    TokenStore,
)
from application.reconcile import cursor_time
from entrypoints.containers import (
    allegro_config,
    command_group,
    kafka_config,
    offer_command_group,
)
from entrypoints.lag import Lag, LagProbe
from entrypoints.settings import Settings
from entrypoints.status_offers import (
    OfferState,
    offer_state_json,
    offer_state_text,
    read_offer_state,
)
from entrypoints.wiring import Wired, opened

# The Allegro client refreshes a token 5 minutes before it expires; stay clear of that.
TOKEN_MARGIN = timedelta(minutes=10)
FAILING_ORDERS_SHOWN = 10
# Bounds of the on-call tool: each Allegro request gets PROBE_TIMEOUT_SECONDS per phase and one
# attempt; measuring the lag (event-stats, then maybe one page of events) gets this in all.
ALLEGRO_DEADLINE_SECONDS = 3.0
# Opening and reading the state store: a local SQLite file takes milliseconds; a PostgreSQL
# that is down refuses at once, one that hangs is given up on after this.
STATE_DEADLINE_SECONDS = 3.0
# Reading the command group's offsets: a few small requests to a broker that answers (run
# beside Allegro's part, so the report is not later for it); one that does not is given up on.
KAFKA_DEADLINE_SECONDS = 3.0

__all__ = [
    "ALLEGRO_DEADLINE_SECONDS",
    "KAFKA_DEADLINE_SECONDS",
    "STATE_DEADLINE_SECONDS",
    "AccessOnlyTokens",
    "AllegroReach",
    "CommandPath",
    "CommandTopicMissing",
    "PartitionOffsets",
    "StatusReport",
    "TokenInfo",
    "WriterStatus",
    "bounded_state",
    "gather_status",
    "read_command_offsets",
    "render_json",
    "run_status",
]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    expires_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class WriterStatus:
    """Which process writes the account's state now: the lease holder (PostgreSQL) or the
    holder of the state file's writer lock (SQLite); `holder` None when nobody does."""

    holder: str | None = None
    command: str | None = None  # SQLite: what the holder runs (run, backfill, ...)
    since: datetime | None = None  # SQLite: when it took the lock
    lease_until: datetime | None = None  # PostgreSQL: when the lease runs out unless renewed
    fencing_token: int | None = None  # PostgreSQL
    in_memory: bool = False  # SQLite in memory: private to one process, no lock
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AllegroReach:
    """Whether `status` reached Allegro. `asked` False: no call was made (no usable token);
    `error` set: the call failed, and says why in a few words."""

    asked: bool = False
    error: str | None = None
    seconds: float | None = None  # how long the calls took, answered or not

    def to_json(self) -> dict[str, Any]:
        return {
            "asked": self.asked,
            "reached": self.asked and self.error is None,
            "error": self.error,
            "seconds": self.seconds,
        }


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    """One partition of the command topic: what it holds and where the group stands."""

    partition: int
    start: int  # the oldest offset the broker still holds
    end: int  # the offset the next record will get
    committed: int | None  # the group's next record to read; None: it never committed here

    @property
    def lag(self) -> int:
        """Records the group has yet to read. A group without a commit starts from the oldest
        record held (adapters/kafka/aiokafka_command_source.py); one whose commit the broker
        deleted meanwhile starts there too."""
        position = self.start if self.committed is None else max(self.committed, self.start)
        return max(self.end - position, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "start": self.start,
            "end": self.end,
            "committed": self.committed,
            "lag": self.lag,
        }


@dataclass(frozen=True, slots=True)
class CommandPath:
    """The command path as `run` would run it: on or off (COMMANDS_ENABLED), what it reads,
    and, when on, the group's offsets (`partitions` None: not read, `error` says why)."""

    enabled: bool
    topic: str
    group: str
    partitions: tuple[PartitionOffsets, ...] | None = None
    error: str | None = None
    switch: str = "COMMANDS_ENABLED"  # the setting that turns the path off

    @property
    def lag(self) -> int | None:
        return None if self.partitions is None else sum(p.lag for p in self.partitions)

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "topic": self.topic,
            "group": self.group,
            "lag": self.lag,
            "partitions": (
                None if self.partitions is None else [p.to_json() for p in self.partitions]
            ),
            "error": self.error,
        }

    def text(self) -> str:
        where = f"topic {self.topic}, group {self.group}"
        if not self.enabled:
            return f"off ({self.switch}=false); {where}"
        if self.partitions is None:
            return f"on: {where}, lag unknown: {self.error}"
        count = len(self.partitions)
        return f"on: {where}, lag {self.lag} record(s) in {count} partition(s)"


@dataclass(frozen=True, slots=True)
class StatusReport:
    account: str
    state_url: str
    checked_at: datetime
    cursor: Cursor | None
    lag: Lag | None
    lag_error: str | None
    token: TokenInfo
    errors: ErrorReport = field(default_factory=ErrorReport)
    writer: WriterStatus = field(default_factory=WriterStatus)
    allegro: AllegroReach = field(default_factory=AllegroReach)
    commands: CommandPath | None = None  # None: not asked (a report built by hand)
    offers: OfferState | None = None  # None: off (OFFERS_ENABLED=false), or not asked
    offer_commands: CommandPath | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "state_url": self.state_url,
            "checked_at": self.checked_at.isoformat(),
            "writer": {
                "holder": self.writer.holder,
                "command": self.writer.command,
                "since": _iso(self.writer.since),
                "lease_until": _iso(self.writer.lease_until),
                "fencing_token": self.writer.fencing_token,
                "error": self.writer.error,
            },
            "cursor": _cursor_json(self.cursor),
            "lag": self._lag_json(),
            "allegro": self.allegro.to_json(),
            "token": {
                "expires_at": _iso(self.token.expires_at),
                "expires_in_seconds": self._seconds_left(),
                "error": self.token.error,
            },
            "last_error": (
                None
                if self.errors.last_poll_error is None
                else {
                    "message": self.errors.last_poll_error.message,
                    "occurred_at": self.errors.last_poll_error.occurred_at.isoformat(),
                }
            ),
            "failing_orders": [
                {
                    "checkout_form_id": order.checkout_form_id,
                    "attempts": order.attempts,
                    "last_error": order.last_error,
                    "updated_at": order.updated_at.isoformat(),
                }
                for order in self.errors.failing_orders
            ],
            "commands": None if self.commands is None else self.commands.to_json(),
            "offers": None if self.offers is None else offer_state_json(self.offers),
            "offer_commands": (
                None if self.offer_commands is None else self.offer_commands.to_json()
            ),
        }

    def table(self) -> str:
        rows = [
            ("account", self.account),
            ("state store", self.state_url),
            ("writer", self._writer_text()),
            ("cursor", _cursor_text(self.cursor)),
            ("newest event", self._latest_text()),
            ("lag", self._lag_text()),
            ("token", self._token_text()),
            ("last error", self._last_error_text()),
            ("failing orders", self._failing_text()),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
        lines += [f"{''.ljust(width)}    {line}" for line in self._failing_lines()]
        if self.commands is not None:
            lines.append(f"{'commands'.ljust(width)}  {self.commands.text()}")
        if self.offers is not None:
            lines.append(
                f"{'offers'.ljust(width)}  {offer_state_text(self.offers, self.checked_at)}"
            )
        if self.offer_commands is not None:
            lines.append(f"{'offer commands'.ljust(width)}  {self.offer_commands.text()}")
        return "\n".join(lines)

    def _writer_text(self) -> str:
        writer = self.writer
        if writer.error is not None:
            return f"unknown: {writer.error}"
        if writer.in_memory:
            return "none (an in-memory database is private to its process)"
        if writer.holder is None:
            return "none: no process is polling or backfilling this account"
        if writer.lease_until is not None:
            return (
                f"{writer.holder}, lease until {_iso(writer.lease_until)} "
                f"(fencing token {writer.fencing_token})"
            )
        command = f" ({writer.command})" if writer.command else ""
        since = f" since {_iso(writer.since)}" if writer.since else ""
        return f"{writer.holder}{command}{since}"

    def _seconds_left(self) -> float | None:
        expires_at = self.token.expires_at
        if expires_at is None:
            return None
        return round((expires_at - self.checked_at).total_seconds(), 1)

    def _lag_json(self) -> dict[str, Any]:
        lag = self.lag
        return {
            "latest_event_id": lag.latest_event_id if lag else None,
            "seconds": lag.seconds if lag else None,
            "events": lag.events if lag else None,
            "events_capped": lag.capped if lag else False,
            "error": self.lag_error,
        }

    def _latest_text(self) -> str:
        if self.lag is None:
            error = self.allegro.error
            return "unknown" if error is None else f"unknown: Allegro: {error}"
        latest = self.lag.latest_event_id
        return "none (the journal is empty)" if latest is None else _position_text(latest)

    def _lag_text(self) -> str:
        lag = self.lag
        if lag is None:
            return f"unknown: {self.lag_error}"
        if lag.events is None:
            return "unknown: no cursor stored yet (the service has not started polling)"
        events = f"{lag.events}+" if lag.capped else str(lag.events)
        seconds = "" if lag.seconds is None else f", {_duration(lag.seconds)} of event time"
        return f"{events} events{seconds}"

    def _token_text(self) -> str:
        token = self.token
        if token.error is not None:
            return f"unknown: {token.error}"
        if token.expires_at is None:
            return "none stored: run `openoms-allegro auth login`"
        left = (token.expires_at - self.checked_at).total_seconds()
        when = _iso(token.expires_at)
        if left <= 0:
            return f"access token expired at {when} (the service refreshes it when it polls)"
        return f"access token valid until {when} ({_duration(left)} left)"

    def _last_error_text(self) -> str:
        error = self.errors.last_poll_error
        if error is None:
            return "none recorded"
        return f"{_iso(error.occurred_at)}  {error.message}"

    def _failing_text(self) -> str:
        count = len(self.errors.failing_orders)
        return "none" if count == 0 else f"{count} waiting for a retry"

    def _failing_lines(self) -> list[str]:
        return [
            f"{order.checkout_form_id}: {order.attempts} attempt(s), {order.last_error}"
            for order in self.errors.failing_orders
        ]


async def run_status(settings: Settings, as_json: bool) -> str:
    """`openoms-allegro status`: the report as text. Opens the state read-only (never creates
    nor migrates it); raises StateStoreError when it cannot be read."""
    async with opened(settings, read_only=True) as wired:
        report = await gather_status(settings, wired, SystemClock())
    return render_json(report) if as_json else report.table()


async def gather_status(
    settings: Settings,
    wired: Wired,
    clock: Clock,
    *,
    allegro_timeout: float = PROBE_TIMEOUT_SECONDS,
    allegro_deadline: float = ALLEGRO_DEADLINE_SECONDS,
    state_deadline: float = STATE_DEADLINE_SECONDS,
    kafka_deadline: float = KAFKA_DEADLINE_SECONDS,
    read_offsets: OffsetsReader | None = None,
) -> StatusReport:
    """Raises StateStoreError when the state store cannot be read (within `state_deadline`):
    nothing to report then. Allegro's part never raises and never takes longer than
    `allegro_deadline`; the command path's, run beside it, neither, with `kafka_deadline`.
    `read_offsets`: how the command group's offsets are read (`read_command_offsets`)."""
    account = settings.allegro_account
    async with bounded_state(redact_url(settings.state_url), state_deadline):
        state = await wired.state_store()
        cursor = await state.load_cursor(account)
        errors = await state.load_errors(account, FAILING_ORDERS_SHOWN)
        tokens = await wired.token_store()
        pair, token = await _token(tokens, account)
        writer = await _writer(settings, wired)
        offers = None
        if settings.offers_enabled:
            offers = await read_offer_state(await wired.offer_store(), account)
    read = read_offsets or read_command_offsets
    (lag, lag_error, reach), commands, offer_commands = await asyncio.gather(
        _lag(
            settings, state, pair, clock, request_timeout=allegro_timeout, deadline=allegro_deadline
        ),
        _command_path(settings, read, kafka_deadline),
        consumer_path(
            settings,
            read,
            kafka_deadline,
            topic=settings.kafka_topic_offer_commands,
            group=offer_command_group(settings),
            enabled=settings.offers_enabled,
            switch="OFFERS_ENABLED",
        ),
    )
    return StatusReport(
        account=account,
        state_url=redact_url(settings.state_url),
        checked_at=clock.now(),
        cursor=cursor,
        lag=lag,
        lag_error=lag_error,
        token=token,
        errors=errors,
        writer=writer,
        allegro=reach,
        commands=commands,
        offers=offers,
        offer_commands=offer_commands,
    )


@asynccontextmanager
async def bounded_state(where: str, seconds: float) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise StateStoreError(
            f"the state store {where} gave no answer within {seconds:g} s (STATE_URL)"
        ) from None


async def _writer(settings: Settings, wired: Wired) -> WriterStatus:
    """Reads only: `status` never takes the lease or the writer lock."""
    try:
        if wired.postgres:
            leases = await wired.leases()
            lease = await leases.current(settings.allegro_account)
            if lease is None:
                return WriterStatus()
            return WriterStatus(
                holder=lease.holder, lease_until=lease.expires_at, fencing_token=lease.fencing_token
            )
        lock = await wired.writer_lock()
        if lock is None:
            return WriterStatus(in_memory=True)
        info = await lock.holder()
    except StateStoreError as exc:
        return WriterStatus(error=str(exc))
    if info is None:
        return WriterStatus()
    return WriterStatus(
        holder=info.holder or "a process that is starting", command=info.command, since=info.since
    )


async def _token(tokens: TokenStore, account: str) -> tuple[TokenPair | None, TokenInfo]:
    try:
        pair = await tokens.load(account)
    except StateStoreError as exc:  # e.g. TOKEN_ENCRYPTION_KEY missing or not the one used
        return None, TokenInfo(error=str(exc))
    return pair, TokenInfo(expires_at=pair.expires_at if pair else None)


async def _lag(
    settings: Settings,
    state: StateStore,
    pair: TokenPair | None,
    clock: Clock,
    *,
    request_timeout: float,
    deadline: float,
) -> tuple[Lag | None, str | None, AllegroReach]:
    if pair is None:
        return None, "no usable tokens stored", AllegroReach()
    if pair.expires_at - clock.now() < TOKEN_MARGIN:
        return (
            None,
            "not measured: the stored access token expires within 10 minutes and `status` "
            "never refreshes tokens (the polling service does)",
            AllegroReach(),
        )
    client = probe_client(allegro_config(settings), pair, timeout=request_timeout)
    probe = LagProbe(client.journal, state, settings.allegro_account, clock)
    started = time.monotonic()
    try:
        async with asyncio.timeout(deadline):
            lag = await probe.measure()
    except AllegroAuthError:
        reach = AllegroReach(True, "refused the stored access token", _since(started))
        return None, "not measured: Allegro refused the stored access token", reach
    except (PortError, TimeoutError) as exc:
        unreached = describe_failure(
            exc, deadline if isinstance(exc, TimeoutError) else request_timeout
        )
        if unreached is None:  # Allegro answered, with an error
            reason = describe_answer(exc)
            return None, f"not measured: {reason}", AllegroReach(True, reason, _since(started))
        reach = AllegroReach(True, unreached, _since(started))
        return None, f"not measured: Allegro: {unreached}", reach
    finally:
        await client.aclose()
    return lag, None, AllegroReach(True, None, _since(started))


# (config, topic, group) -> the group's offsets on the topic
OffsetsReader = Callable[[KafkaConfig, str, str], Awaitable[tuple[PartitionOffsets, ...]]]


class CommandTopicMissing(Exception):
    """The command topic does not exist: the service creates no topic (docs/operations.md,
    "Creating the topics")."""


async def _command_path(settings: Settings, read: OffsetsReader, deadline: float) -> CommandPath:
    return await consumer_path(
        settings,
        read,
        deadline,
        topic=settings.kafka_topic_commands,
        group=command_group(settings),
        enabled=settings.commands_enabled,
    )


async def consumer_path(
    settings: Settings,
    read: OffsetsReader,
    deadline: float,
    *,
    topic: str,
    group: str,
    enabled: bool,
    switch: str = "COMMANDS_ENABLED",
) -> CommandPath:
    """A command topic's group as `run` reads it. Never raises, and answers within
    `deadline`: what cannot be read is said."""
    path = functools.partial(CommandPath, enabled, topic, group, switch=switch)
    if not enabled:
        return path()
    if not settings.kafka_bootstrap_servers:
        return path(error="KAFKA_BOOTSTRAP_SERVERS is not set")
    config = kafka_config(settings)
    # Each request may take at most the whole deadline; aiokafka's default is 40 s.
    config = dataclasses.replace(config, request_timeout_ms=max(int(deadline * 1000), 1))
    try:
        async with asyncio.timeout(deadline):
            partitions = await read(config, topic, group)
    except TimeoutError:
        return path(error=f"Kafka: no answer within {deadline:g} s")
    except CommandTopicMissing:
        return path(error=f"the topic {topic} does not exist")
    except (KafkaConnectionError, OSError) as exc:
        return path(error=f"Kafka: unreachable ({type(exc).__name__})")
    except KafkaError as exc:
        return path(error=f"Kafka: {type(exc).__name__}")
    return path(partitions)


async def read_command_offsets(
    config: KafkaConfig, topic: str, group: str
) -> tuple[PartitionOffsets, ...]:
    """The group's committed offsets (the admin API's OffsetFetch) and the topic's first and
    next offsets (a consumer outside any group: ListOffsets), read only: no group is joined,
    so the running service's consumer is not rebalanced. The topic is looked up in the
    metadata of all topics, since naming it would create it on a broker with
    `auto.create.topics.enable`. Raises CommandTopicMissing, KafkaError or OSError."""
    options = connection_options(config)
    admin = AIOKafkaAdminClient(**options)
    consumer = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False)
    try:
        await admin.start()
        described = [t for t in await admin.describe_topics() if t["topic"] == topic]
        if not described or described[0]["error_code"] or not described[0]["partitions"]:
            raise CommandTopicMissing(topic)
        partitions = sorted(
            (TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]),
            key=lambda tp: tp.partition,
        )
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        await consumer.start()
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()
    return tuple(
        PartitionOffsets(
            partition=tp.partition,
            start=starts[tp],
            end=ends[tp],
            committed=_committed(committed.get(tp)),
        )
        for tp in partitions
    )


def _committed(found: OffsetAndMetadata | None) -> int | None:
    # OffsetFetch answers -1 for a partition the group has no commit on.
    return None if found is None or found.offset < 0 else found.offset


def _since(started: float) -> float:
    return round(time.monotonic() - started, 2)


def render_json(report: StatusReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)


def _cursor_json(cursor: Cursor | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    moment = cursor_time(cursor)
    return {"position": cursor.position, "event_time": _iso(moment)}


def _cursor_text(cursor: Cursor | None) -> str:
    if cursor is None:
        return "none stored (the service has not started polling this account)"
    if cursor.position is None:
        return "before the oldest retained event (nothing processed yet)"
    return _position_text(cursor.position)


def _position_text(position: str) -> str:
    moment = cursor_time(Cursor(position))
    return position if moment is None else f"{position} (event time {_iso(moment)})"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
