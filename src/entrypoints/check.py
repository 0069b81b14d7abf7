"""`openoms-allegro check`: the pre-flight check (as Airbyte's `check`, or Kafka Connect's
configuration validation). One line per dependency; exit 0 only when every one passes.

- configuration: loading the settings validates them (a bad one is exit 2, one line);
- state store: opened read-only (nothing created nor migrated), so its schema is the one this
  release writes (adapters/persistence: a read-only open refuses any other), and the cursor;
- tokens: stored for the account and decryptable with TOKEN_ENCRYPTION_KEY;
- allegro: the token endpoint accepts ALLEGRO_CLIENT_ID/ALLEGRO_CLIENT_SECRET (an application
  token, `client_credentials` grant), and GET /order/event-stats answers the stored access
  token;
- kafka: a broker answers, both topics exist with a leader for every partition, and the broker
  hands out a producer id when KAFKA_ENABLE_IDEMPOTENCE is on (adapters/kafka/admin.probe_kafka).

`check` never refreshes the seller's tokens. Allegro's refresh tokens are single-use and
rotate (docs/allegro-api.md, OAuth): a refresh consumes the stored one, so a check racing
the service (or failing between Allegro's answer and the save) could leave the service with
a dead token, and avoiding that would need the writer lock or lease, which a read-only tool
must not take. An expired access token is therefore reported, not renewed: the service
refreshes it at its next poll; and the client credentials, which a refresh also needs, are
proved by the `client_credentials` grant, which consumes nothing.

Every probe is bounded (REQUEST_TIMEOUT_SECONDS per request, one attempt; a deadline per
dependency) and Kafka is probed while the rest runs, so the whole check answers within a few
seconds whatever Allegro or the broker do.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from adapters.allegro.probe import (
    PROBE_TIMEOUT_SECONDS,
    check_client_credentials,
    describe_answer,
    describe_failure,
    probe_client,
)
from adapters.kafka.admin import KafkaProbe, KafkaUnreachable, probe_kafka
from adapters.kafka.config import KafkaConfig
from adapters.persistence import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, redact_url
from application.ports.clock import Clock
from application.ports.errors import AllegroAuthError, PortError, StateStoreError
from application.ports.state import TokenPair
from entrypoints.containers import allegro_config, kafka_config
from entrypoints.settings import ConfigurationError, Settings
from entrypoints.status import TOKEN_MARGIN, bounded_state
from entrypoints.wiring import Wired, opened

REQUEST_TIMEOUT_SECONDS = PROBE_TIMEOUT_SECONDS
# Per dependency, all its requests together (Allegro's two calls run side by side).
DEADLINE_SECONDS = 3.0

Status = Literal["ok", "FAIL", "SKIP"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status:<4} {self.name:<14} {self.detail}"


@dataclass(frozen=True, slots=True)
class CheckReport:
    outcomes: tuple[Outcome, ...]

    @property
    def ok(self) -> bool:
        return all(outcome.status == "ok" for outcome in self.outcomes)

    def text(self) -> str:
        return "\n".join(outcome.line() for outcome in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [
                {"name": o.name, "status": o.status.lower(), "detail": o.detail}
                for o in self.outcomes
            ],
        }


@dataclass(frozen=True, slots=True)
class Limits:
    request_timeout: float = REQUEST_TIMEOUT_SECONDS
    deadline: float = DEADLINE_SECONDS


async def run_check(settings: Settings, clock: Clock, limits: Limits | None = None) -> CheckReport:
    """Raises ConfigurationError for a setting the services would refuse (exit 2)."""
    limits = limits or Limits()
    try:
        allegro = allegro_config(settings)
        kafka = kafka_config(settings)  # ConfigurationError without KAFKA_BOOTSTRAP_SERVERS
    except ValueError as exc:  # the adapters' own checks of the values they are given
        raise ConfigurationError(str(exc)) from None
    configuration = Outcome(
        "configuration",
        "ok",
        f"account {settings.allegro_account!r}, Allegro {allegro.api_url}, "
        f"Kafka {kafka.bootstrap_servers}, state {redact_url(settings.state_url)}",
    )
    async with opened(settings, read_only=True) as wired:
        local, broker = await asyncio.gather(
            _state_tokens_allegro(settings, wired, clock, limits),
            _kafka(kafka, limits, offers=settings.offers_enabled),
        )
    return CheckReport((configuration, *local, broker))


async def _state_tokens_allegro(
    settings: Settings, wired: Wired, clock: Clock, limits: Limits
) -> tuple[Outcome, Outcome, Outcome]:
    account = settings.allegro_account
    where = redact_url(settings.state_url)
    try:
        async with bounded_state(where, limits.deadline):
            state = await wired.state_store()
            cursor = await state.load_cursor(account)
    except StateStoreError as exc:
        skipped = "not checked: the state store did not open"
        tokens_skipped = Outcome("tokens", "SKIP", skipped)
        return (
            Outcome("state store", "FAIL", str(exc)),
            tokens_skipped,
            await _allegro(settings, None, clock, limits),
        )
    # A read-only open refuses a schema other than the one this release writes (older: run
    # the service once to migrate; newer: upgrade), so the version is known once it opened.
    migrations = POSTGRES_MIGRATIONS if wired.postgres else SQLITE_MIGRATIONS
    position = "none stored" if cursor is None else (cursor.position or "before the oldest event")
    store = Outcome(
        "state store",
        "ok",
        f"{where} (schema version {len(migrations)}, cursor {position})",
    )
    tokens, pair = await _tokens(settings, wired, limits)
    return store, tokens, await _allegro(settings, pair, clock, limits)


async def _tokens(
    settings: Settings, wired: Wired, limits: Limits
) -> tuple[Outcome, TokenPair | None]:
    account = settings.allegro_account
    try:
        async with bounded_state(redact_url(settings.state_url), limits.deadline):
            store = await wired.token_store()
            pair = await store.load(account)
    except StateStoreError as exc:  # TOKEN_ENCRYPTION_KEY missing or not the one used
        return Outcome("tokens", "FAIL", str(exc)), None
    if pair is None:
        if settings.allegro_refresh_token is not None:
            return Outcome(
                "tokens",
                "ok",
                f"none stored for account {account!r}; ALLEGRO_REFRESH_TOKEN is set: the "
                "service exchanges it at its first poll and stores the new pair",
            ), None
        return Outcome(
            "tokens",
            "FAIL",
            f"no tokens stored for account {account!r}: run `openoms-allegro auth login` "
            "(or set ALLEGRO_REFRESH_TOKEN)",
        ), None
    if not pair.refresh_token:
        return Outcome(
            "tokens",
            "FAIL",
            f"the stored tokens of account {account!r} have no refresh token: "
            "run `openoms-allegro auth login`",
        ), pair
    return Outcome(
        "tokens", "ok", f"stored for account {account!r}, decrypted with TOKEN_ENCRYPTION_KEY"
    ), pair


async def _allegro(
    settings: Settings, pair: TokenPair | None, clock: Clock, limits: Limits
) -> Outcome:
    config = allegro_config(settings)
    # As `status`: the service refreshes 5 minutes before expiry; a token this close to it may
    # be replaced while we use it.
    usable = pair is not None and pair.expires_at - clock.now() > TOKEN_MARGIN
    credentials, stats = await asyncio.gather(
        _attempt(check_client_credentials(config, request_timeout=limits.request_timeout), limits),
        _attempt(_event_stats(settings, pair, limits), limits) if usable else _nothing(),
    )
    if isinstance(credentials, BaseException):
        if isinstance(credentials, AllegroAuthError):
            return Outcome("allegro", "FAIL", str(credentials))
        reason = _reason(credentials, limits, f"token endpoint {config.token_url}")
        return Outcome("allegro", "FAIL", reason)
    done = "client credentials accepted"
    if isinstance(stats, BaseException):
        if isinstance(stats, AllegroAuthError):
            reason = (
                "GET /order/event-stats: refused the stored access token (revoked?): "
                "run `openoms-allegro auth login`"
            )
        else:
            reason = _reason(stats, limits, "GET /order/event-stats")
        return Outcome("allegro", "FAIL", f"{config.api_url}: {done}; {reason}")
    if usable:
        latest, seconds = stats if isinstance(stats, tuple) else (None, 0.0)
        newest = "the journal is empty" if latest is None else f"newest event {latest}"
        return Outcome(
            "allegro",
            "ok",
            f"{config.api_url}: {done}; GET /order/event-stats answered the stored access "
            f"token in {seconds:.2f} s ({newest})",
        )
    if pair is None:
        return Outcome("allegro", "ok", f"{config.api_url}: {done}; no seller token to try")
    expiry = "expired" if _seconds_left(pair, clock) <= 0 else "expires within 10 minutes"
    return Outcome(
        "allegro",
        "ok",
        f"{config.api_url}: {done}; the stored access token {expiry} "
        f"({_iso(pair.expires_at)}), so no call was made with it: the service refreshes it at "
        "its next poll (check never refreshes: refresh tokens are single-use)",
    )


async def _event_stats(
    settings: Settings, pair: TokenPair | None, limits: Limits
) -> tuple[str | None, float]:
    assert pair is not None
    client = probe_client(allegro_config(settings), pair, timeout=limits.request_timeout)
    started = time.monotonic()
    try:
        latest = await client.journal.latest_event_id()
    finally:
        await client.aclose()
    return latest, time.monotonic() - started


async def _kafka(config: KafkaConfig, limits: Limits, *, offers: bool) -> Outcome:
    where = config.bootstrap_servers
    try:
        async with asyncio.timeout(limits.deadline):
            probe = await probe_kafka(config, limits.request_timeout, offers=offers)
    except TimeoutError:
        return Outcome("kafka", "FAIL", f"{where}: no answer within {limits.deadline:g} s")
    except KafkaUnreachable as exc:
        return Outcome("kafka", "FAIL", f"unreachable: {exc}")
    return _kafka_outcome(config, probe)


def _kafka_outcome(config: KafkaConfig, probe: KafkaProbe) -> Outcome:
    where = config.bootstrap_servers
    for topic in probe.topics:
        if not topic.authorized:
            return Outcome(
                "kafka", "FAIL", f"topic {topic.name}: not authorised to describe it (ACLs)"
            )
        if topic.partitions == 0:
            return Outcome(
                "kafka",
                "FAIL",
                f"topic {topic.name} does not exist: create it (see the README on creating "
                "the topics)",
            )
        if topic.leaderless:
            return Outcome(
                "kafka",
                "FAIL",
                f"topic {topic.name}: {topic.leaderless} of {topic.partitions} partitions have "
                "no leader (writes to them fail)",
            )
    if probe.idempotence:
        return Outcome(
            "kafka",
            "FAIL",
            f"{where}: the broker refused a producer id ({probe.idempotence}), which an "
            "idempotent producer needs before it writes: set KAFKA_ENABLE_IDEMPOTENCE=false "
            "(or grant IdempotentWrite)",
        )
    topics = ", ".join(f"{t.name} ({t.partitions} partitions)" for t in probe.topics)
    producer = (
        "idempotent producer accepted"
        if probe.idempotence is not None
        else "idempotence off (KAFKA_ENABLE_IDEMPOTENCE=false)"
    )
    return Outcome(
        "kafka",
        "ok",
        f"{where}: {probe.brokers} broker(s); topics {topics}; {producer}; nothing written",
    )


async def _attempt(call: Awaitable[T], limits: Limits) -> T | BaseException:
    try:
        async with asyncio.timeout(limits.deadline):
            return await call
    except (PortError, TimeoutError) as exc:
        return exc


async def _nothing() -> None:
    return None


def _reason(exc: BaseException, limits: Limits, where: str) -> str:
    """`where: unreachable (...)`, or what Allegro answered (describe_answer names where)."""
    timeout = limits.deadline if isinstance(exc, TimeoutError) else limits.request_timeout
    unreached = describe_failure(exc, timeout)
    return f"{where}: {unreached}" if unreached is not None else describe_answer(exc)


def _seconds_left(pair: TokenPair, clock: Clock) -> float:
    return (pair.expires_at - clock.now()).total_seconds()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def render(report: CheckReport, as_json: bool) -> str:
    if as_json:
        return json.dumps(report.to_json(), indent=2, ensure_ascii=False)
    return report.text()
