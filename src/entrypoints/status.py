"""`openoms-allegro status`: who writes, cursor, lag behind event-stats, token expiry, errors.

It reads the state store, and asks Allegro for `/order/event-stats` with the stored
access token only: `status` never refreshes (and so never rotates) a token, which only
the polling replica may do. When the access token is about to expire, the lag is left
unmeasured and the report says why.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.allegro import build_allegro_client
from adapters.persistence import PostgresLease, SqliteWriterLock, redact_url
from application.ports.clock import Clock
from application.ports.errors import AllegroAuthError, PortError, StateStoreError
from application.ports.state import (
    Cursor,
    ErrorReport,
    StateStore,
    TokenPair,
    TokenStore,
)
from application.reconcile import cursor_time
from entrypoints.containers import Application, allegro_config, state_backend
from entrypoints.lag import Lag, LagProbe
from entrypoints.runtime import resolve
from entrypoints.settings import Settings

# The Allegro client refreshes a token 5 minutes before it expires; stay clear of that.
TOKEN_MARGIN = timedelta(minutes=10)
FAILING_ORDERS_SHOWN = 10


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
            return "unknown"
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


async def gather_status(settings: Settings, container: Application, clock: Clock) -> StatusReport:
    """Raises StateStoreError when the state store cannot be read: nothing to report then."""
    account = settings.allegro_account
    state: StateStore = await resolve(container.gateways.state_store())
    cursor = await state.load_cursor(account)
    errors = await state.load_errors(account, FAILING_ORDERS_SHOWN)
    tokens: TokenStore = await resolve(container.gateways.token_store())
    pair, token = await _token(tokens, account)
    lag, lag_error = await _lag(settings, state, pair, clock)
    writer = await _writer(settings, container)
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
    )


async def _writer(settings: Settings, container: Application) -> WriterStatus:
    """Reads only: `status` never takes the lease or the writer lock."""
    gateways = container.gateways
    try:
        if state_backend(settings) == "postgres":
            leases: PostgresLease = await resolve(gateways.leases())
            lease = await leases.current(settings.allegro_account)
            if lease is None:
                return WriterStatus()
            return WriterStatus(
                holder=lease.holder, lease_until=lease.expires_at, fencing_token=lease.fencing_token
            )
        lock: SqliteWriterLock | None = await resolve(gateways.writer_lock())
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
    settings: Settings, state: StateStore, pair: TokenPair | None, clock: Clock
) -> tuple[Lag | None, str | None]:
    if pair is None:
        return None, "no usable tokens stored"
    if pair.expires_at - clock.now() < TOKEN_MARGIN:
        return None, (
            "not measured: the stored access token expires within 10 minutes and `status` "
            "never refreshes tokens (the polling service does)"
        )
    config = dataclasses.replace(allegro_config(settings), initial_refresh_token=None)
    client = build_allegro_client(config, AccessOnlyTokens(pair))
    probe = LagProbe(client.journal, state, settings.allegro_account, clock)
    try:
        return await probe.measure(), None
    except AllegroAuthError:
        return None, "not measured: Allegro refused the stored access token"
    except PortError as exc:
        return None, f"not measured: {type(exc).__name__}: {exc}"
    finally:
        await client.aclose()


class AccessOnlyTokens(TokenStore):
    """The stored access token without its refresh token: a client given this store can
    call Allegro but can never refresh, so it never rotates the account's tokens."""

    def __init__(self, pair: TokenPair) -> None:
        self._pair = TokenPair(pair.access_token, "", pair.expires_at, pair.scope)

    async def load(self, account: str) -> TokenPair | None:
        return self._pair

    async def save(self, account: str, pair: TokenPair) -> None:
        raise StateStoreError("`openoms-allegro status` never stores tokens")


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
