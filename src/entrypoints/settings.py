"""Typed configuration from the environment (the public interface: keep names stable).

Nothing reads the environment at import time: `load_settings()` is called by the CLI and
its errors become one line naming the variable, with exit code 2. Every setting is checked
here, when it is loaded, not when a component first uses it: a bad value never starts the
service, never ends in a traceback, and an empty secret is the same as an unset one.

The variables are grouped by concern (GROUPS: Allegro, polling, reconciliation, Kafka, state,
HTTP, logging), each group a settings model of its own that the composition root hands to the
component of that concern; `Settings` is all of them, so every variable keeps its flat name.
A limit that another layer also checks (a journal page, the pages of a batch) is that layer's
constant, imported here, never a second literal.

`STATE_URL`'s default is absolute, the XDG convention for state on Linux
(`$XDG_STATE_HOME/openoms-allegro/state.db`, else `~/.local/state/openoms-allegro/state.db`),
resolved when the settings are loaded: `auth login` and `run` started from different folders
use the same file. The container image sets `STATE_URL` explicitly.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Literal, Self
from urllib.parse import quote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from adapters.allegro.budget_share import (
    DEFAULT_COMMANDS_MIN_SHARE,
    DEFAULT_IMPORT_MIN_SHARE,
    MAX_MIN_SHARE,
)
from adapters.allegro.config import DEFAULT_MAX_BODY_BYTES, is_loopback
from adapters.kafka.config import SASL_MECHANISMS
from adapters.kafka.messages import DEFAULT_MAX_MESSAGE_BYTES, MIN_MAX_MESSAGE_BYTES
from adapters.persistence.token_cipher import TokenCipher
from adapters.persistence.url import parse_state_url
from application.ports.allegro import JOURNAL_PAGE_SIZE
from application.sync_orders import MAX_PAGES_PER_BATCH, PAGES_PER_BATCH
from domain.mapping import StatusMapping
from domain.policy import ImportTrigger
from domain.statuses import FulfillmentStatus

ENVIRONMENTS = {
    "production": ("https://api.allegro.pl", "https://allegro.pl/auth/oauth"),
    "sandbox": (
        "https://api.allegro.pl.allegrosandbox.pl",
        "https://allegro.pl.allegrosandbox.pl/auth/oauth",
    ),
}


class ConfigurationError(Exception):
    """Bad configuration; the message names the environment variable."""


# The key docker-compose.yml gives the service when TOKEN_ENCRYPTION_KEY is unset: it is
# public, so it may only protect tokens of the simulator (an Allegro URL on loopback).
COMPOSE_DEMO_KEY = "ZGVtby1rZXktb2Ytb3Blbm9tcy1hbGxlZ3JvLWNvbXA="

STATE_DIRECTORY = "openoms-allegro"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Allegro's fulfillment statuses: the keys ALLEGRO_STATUS_MAPPING may override.
FULFILLMENT_STATUSES = frozenset(
    value for name, value in vars(FulfillmentStatus).items() if name.isupper()
)
# Kafka's own rule for topic names (kafka.common.internals.Topic).
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def default_state_url() -> str:
    """`sqlite:////<XDG state home>/openoms-allegro/state.db`, absolute. A relative
    `XDG_STATE_HOME` is ignored, as the XDG Base Directory specification says."""
    base = os.environ.get("XDG_STATE_HOME", "")
    if base and Path(base).is_absolute():
        root = Path(base)
    else:
        try:
            root = Path.home() / ".local" / "state"
        except RuntimeError:  # no HOME and no password entry (e.g. an arbitrary container uid)
            raise ValueError(
                "is not set and there is no home directory for its default "
                "(~/.local/state/openoms-allegro/state.db): set STATE_URL"
            ) from None
    return f"sqlite:///{quote(str(root / STATE_DIRECTORY / 'state.db'))}"


_FLAT = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")


def _empty_is_unset(value: object) -> object:
    """`VAR=` (as compose files and `env` leave it) means the same as no VAR at all."""
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, SecretStr) and not value.get_secret_value().strip():
        return None
    return value


class AllegroSettings(BaseSettings):
    """`ALLEGRO_*`: which Allegro account, how to reach it, what to import from it."""

    model_config = _FLAT

    allegro_environment: Literal["production", "sandbox"] = "production"
    allegro_api_url: str | None = None
    allegro_auth_url: str | None = None
    allegro_client_id: str = Field(min_length=1)
    allegro_client_secret: SecretStr
    allegro_refresh_token: SecretStr | None = None
    allegro_account: str = Field(default="default", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    allegro_start_from: str = "latest"
    allegro_import_trigger: ImportTrigger = ImportTrigger.READY_FOR_PROCESSING
    allegro_rate_limit_per_minute: int = Field(default=150, ge=1, le=9000)
    allegro_rate_limit_burst: int = Field(default=5, ge=1, le=1000)
    # The parts of the budget the import and the commands keep however busy the other is;
    # each class is capped at 1 - the other's share (see adapters/allegro/budget_share.py).
    allegro_import_min_share: float = Field(
        default=DEFAULT_IMPORT_MIN_SHARE, ge=0, le=MAX_MIN_SHARE, allow_inf_nan=False
    )
    allegro_commands_min_share: float = Field(
        default=DEFAULT_COMMANDS_MIN_SHARE, ge=0, le=MAX_MIN_SHARE, allow_inf_nan=False
    )
    allegro_status_mapping: dict[str, str] = Field(default_factory=dict)
    allegro_timeout_seconds: float = Field(default=30.0, gt=0)
    # A larger 2xx body is malformed (see adapters/allegro/config.py).
    allegro_max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=64 * 1024, le=1024**3)
    allegro_retry_after_max_seconds: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    allegro_bulk_reads: bool = True  # read checkout forms through list pages where it pays

    _refresh_token_unset = field_validator("allegro_refresh_token", mode="before")(_empty_is_unset)

    @field_validator("allegro_client_secret")
    @classmethod
    def _client_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty: set the client secret of your Allegro application")
        return value

    @field_validator("allegro_status_mapping")
    @classmethod
    def _status_mapping(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(key for key in value if key.upper() not in FULFILLMENT_STATUSES)
        if unknown:
            raise ValueError(
                f"unknown Allegro fulfillment status {unknown[0]!r}; the keys are "
                f"{', '.join(sorted(FULFILLMENT_STATUSES))}"
            )
        StatusMapping.with_overrides(value)  # its ValueError names the unknown OpenOMS status
        return value

    @field_validator("allegro_start_from")
    @classmethod
    def _start_from(cls, value: str) -> str:
        if value in ("latest", "earliest") or value.isdigit():
            return value
        raise ValueError("must be 'latest', 'earliest' or a journal event id (digits)")

    @model_validator(mode="after")
    def _min_shares(self) -> Self:
        # A small tolerance: 0.7 + 0.3 must pass however the floats round.
        if self.allegro_import_min_share + self.allegro_commands_min_share > 1 + 1e-9:
            raise ValueError(
                "ALLEGRO_IMPORT_MIN_SHARE + ALLEGRO_COMMANDS_MIN_SHARE must not exceed 1 (got "
                f"{self.allegro_import_min_share} + {self.allegro_commands_min_share}): the two "
                "classes share one budget"
            )
        return self

    @model_validator(mode="after")
    def _urls(self) -> Self:
        api, auth = ENVIRONMENTS[self.allegro_environment]
        self.allegro_api_url = _checked_url(self.allegro_api_url or api, "ALLEGRO_API_URL")
        self.allegro_auth_url = _checked_url(self.allegro_auth_url or auth, "ALLEGRO_AUTH_URL")
        return self

    @property
    def api_url(self) -> str:
        assert self.allegro_api_url is not None  # set by the validator
        return self.allegro_api_url

    @property
    def auth_url(self) -> str:
        assert self.allegro_auth_url is not None
        return self.allegro_auth_url


class PollingSettings(BaseSettings):
    """How the journal is followed: how often, how much a batch takes, when to give up."""

    model_config = _FLAT

    poll_interval_seconds: float = Field(default=15.0, gt=0)
    batch_size: int = Field(default=JOURNAL_PAGE_SIZE, ge=1, le=JOURNAL_PAGE_SIZE)
    # Journal pages per batch while a backlog lasts.
    batch_pages: int = Field(default=PAGES_PER_BATCH, ge=1, le=MAX_PAGES_PER_BATCH)
    dead_letter_after_attempts: int = Field(default=3, ge=1)
    lag_probe_seconds: float = Field(default=30.0, gt=0)


class ReconciliationSettings(BaseSettings):
    """`RECONCILE_*`: the light and the deep sweep that catch what the journal missed."""

    model_config = _FLAT

    reconcile_interval_seconds: float = Field(default=3600.0, ge=0)  # 0 disables
    reconcile_lookback_hours: float = Field(default=72.0, gt=0)
    reconcile_deep_interval_hours: float = Field(default=24.0, ge=0)  # 0 disables
    reconcile_deep_lookback_days: float = Field(default=30.0, gt=0, le=365)

    @model_validator(mode="after")
    def _deep_sweep(self) -> Self:
        if self.reconcile_deep_interval_hours > 0 and (
            self.reconcile_deep_lookback_days * 24 <= self.reconcile_lookback_hours
        ):
            raise ValueError(
                "RECONCILE_DEEP_LOOKBACK_DAYS must reach further back than "
                "RECONCILE_LOOKBACK_HOURS (the deep sweep covers what the light one does not); "
                "RECONCILE_DEEP_INTERVAL_HOURS=0 turns the deep sweep off"
            )
        return self


class KafkaSettings(BaseSettings):
    """`KAFKA_*`: where events are published and how the client authenticates."""

    model_config = _FLAT

    kafka_bootstrap_servers: str | None = None
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_enable_idempotence: bool = True
    kafka_topic_orders: str = "openoms.orders.v1"
    kafka_topic_dlq: str = "openoms.orders.dlq.v1"
    kafka_topic_commands: str = "openoms.allegro.commands.v1"
    kafka_topic_command_results: str = "openoms.allegro.command-results.v1"
    # `run` applies OpenOMS's commands from KAFKA_TOPIC_COMMANDS besides importing orders.
    commands_enabled: bool = True
    kafka_topic_offer_commands: str = "openoms.allegro.offer-commands.v1"
    kafka_topic_offers: str = "openoms.offers.v1"
    # `run` keeps offers in sync (docs/offers.md): SetStock/SetPrice from
    # KAFKA_TOPIC_OFFER_COMMANDS to Allegro, and Allegro's offer changes to KAFKA_TOPIC_OFFERS.
    offers_enabled: bool = True
    # How often Allegro's offer event journal is read when it had nothing new.
    offer_events_poll_seconds: float = Field(default=10.0, gt=0, le=3600)
    kafka_compression_type: Literal["gzip", "snappy", "lz4", "zstd", "none"] = "gzip"
    # Largest record published (key + value + headers + framing, before compression); a larger
    # event goes to the DLQ as a truncated stub (see adapters/kafka/messages.record_size).
    kafka_max_message_bytes: int = Field(
        default=DEFAULT_MAX_MESSAGE_BYTES, ge=MIN_MAX_MESSAGE_BYTES, le=2**31 - 1
    )

    _unset = field_validator(
        "kafka_sasl_password",
        "kafka_sasl_mechanism",
        "kafka_sasl_username",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "kafka_bootstrap_servers",
        mode="before",
    )(_empty_is_unset)

    @field_validator(
        "kafka_topic_orders",
        "kafka_topic_dlq",
        "kafka_topic_commands",
        "kafka_topic_command_results",
        "kafka_topic_offer_commands",
        "kafka_topic_offers",
    )
    @classmethod
    def _topic(cls, value: str) -> str:
        if not _TOPIC_NAME.fullmatch(value) or value in (".", ".."):
            raise ValueError(
                f"{value!r} is not a Kafka topic name (letters, digits, '.', '_', '-'; "
                "at most 249 characters)"
            )
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for server in value.split(","):
            host, colon, port = server.strip().rpartition(":")
            if not colon:
                host, port = port, "9092"
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(
                    f"{server.strip()!r} is not host:port (a comma-separated list, e.g. "
                    "kafka-1:9092,kafka-2:9092)"
                )
        return value

    @model_validator(mode="after")
    def _kafka_security(self) -> Self:
        """The combinations aiokafka would refuse (or silently ignore) when it connects."""
        protocol = self.kafka_security_protocol
        sasl = {
            "KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
            "KAFKA_SASL_USERNAME": self.kafka_sasl_username,
            "KAFKA_SASL_PASSWORD": self.kafka_sasl_password,
        }
        if protocol.startswith("SASL_"):
            if self.kafka_sasl_mechanism not in SASL_MECHANISMS:
                raise ValueError(
                    f"KAFKA_SASL_MECHANISM must be one of {', '.join(sorted(SASL_MECHANISMS))} "
                    f"with KAFKA_SECURITY_PROTOCOL={protocol}"
                )
            missing = [name for name, value in sasl.items() if value is None]
            if missing:
                raise ValueError(
                    f"{missing[0]} is required with KAFKA_SECURITY_PROTOCOL={protocol}"
                )
        else:
            stray = [name for name, value in sasl.items() if value is not None]
            if stray:
                raise ValueError(
                    f"{stray[0]} is set but KAFKA_SECURITY_PROTOCOL is {protocol}: use "
                    f"SASL_SSL (or SASL_PLAINTEXT), or unset {stray[0]}"
                )
        files = {
            "KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
        }
        given = {name: path for name, path in files.items() if path is not None}
        if given and protocol not in ("SSL", "SASL_SSL"):
            name = next(iter(given))
            raise ValueError(
                f"{name} is set but KAFKA_SECURITY_PROTOCOL is {protocol}: use SSL or SASL_SSL"
            )
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise ValueError("KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE (the client certificate)")
        for name, path in given.items():
            if not os.access(path, os.R_OK) or not Path(path).is_file():
                raise ValueError(f"{name}: cannot read the file {path}")
        if self.kafka_topic_orders == self.kafka_topic_dlq:
            raise ValueError("KAFKA_TOPIC_DLQ must differ from KAFKA_TOPIC_ORDERS")
        named = {
            "KAFKA_TOPIC_ORDERS": self.kafka_topic_orders,
            "KAFKA_TOPIC_DLQ": self.kafka_topic_dlq,
            "KAFKA_TOPIC_COMMANDS": self.kafka_topic_commands,
            "KAFKA_TOPIC_COMMAND_RESULTS": self.kafka_topic_command_results,
            "KAFKA_TOPIC_OFFER_COMMANDS": self.kafka_topic_offer_commands,
            "KAFKA_TOPIC_OFFERS": self.kafka_topic_offers,
        }
        seen: dict[str, str] = {}
        for name, topic in named.items():
            if topic in seen:
                raise ValueError(f"{name} must differ from {seen[topic]} (both are {topic!r})")
            seen[topic] = name
        return self

    def require_kafka(self) -> str:
        if not self.kafka_bootstrap_servers:
            raise ConfigurationError("KAFKA_BOOTSTRAP_SERVERS is required for this command")
        return self.kafka_bootstrap_servers


class StateSettings(BaseSettings):
    """Where the cursor, outbox and tokens live, and the lease that guards them."""

    model_config = _FLAT

    # May carry a password (shown redacted by `status`: adapters.persistence.redact_url).
    # Empty (the default): default_state_url(), resolved by the validator.
    state_url: str = Field(default="", repr=False, validate_default=True)
    token_encryption_key: SecretStr | None = None
    # PostgreSQL only: several replicas, one leader per account (see entrypoints/leadership).
    lease_ttl_seconds: float = Field(default=30.0, ge=1, le=3600)
    lease_wait_seconds: float = Field(default=60.0, ge=0, le=3600)  # one-shot commands; 0: none

    _key_unset = field_validator("token_encryption_key", mode="before")(_empty_is_unset)

    @field_validator("state_url")
    @classmethod
    def _state_url(cls, value: str) -> str:
        value = value.strip() or default_state_url()
        parse_state_url(value)  # its ValueError names the problem, never the password
        return value

    @field_validator("token_encryption_key")
    @classmethod
    def _token_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            TokenCipher.from_key(value.get_secret_value())
        except ValueError:
            raise ValueError(
                "is not a Fernet key (URL-safe base64 of 32 bytes: 44 characters ending in "
                "'='); generate one with `openoms-allegro auth generate-key`"
            ) from None  # the cause would quote the key
        return value


class HttpSettings(BaseSettings):
    """`HTTP_*`: where /healthz, /readyz and /metrics listen."""

    model_config = _FLAT

    http_host: str = "127.0.0.1"  # the container image sets 0.0.0.0 (see the Dockerfile)
    http_port: int = Field(default=8080, ge=0, le=65535)

    @field_validator("http_host")
    @classmethod
    def _http_host(cls, value: str) -> str:
        host = value.strip()
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not _HOSTNAME.fullmatch(host):
                raise ValueError(
                    f"{value!r} is neither an IP address nor a host name; use e.g. 127.0.0.1 "
                    "(this host only) or 0.0.0.0 (every interface)"
                ) from None
        return host


class LoggingSettings(BaseSettings):
    """`LOG_*`."""

    model_config = _FLAT

    log_level: str = "INFO"  # one of LOG_LEVELS (WARN is read as WARNING), any case
    log_format: Literal["auto", "json", "text"] = "auto"

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        level = "WARNING" if level == "WARN" else level
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown level {value!r}; use one of {', '.join(LOG_LEVELS)}")
        return level


# Each variable belongs to exactly one group (tests/unit/entrypoints/test_settings_groups.py):
# a component is handed the group of its concern, and `Settings` is all of them at once, so
# every variable keeps its flat name (the public interface) and its one-line error.
GROUPS: tuple[type[BaseSettings], ...] = (
    AllegroSettings,
    PollingSettings,
    ReconciliationSettings,
    KafkaSettings,
    StateSettings,
    HttpSettings,
    LoggingSettings,
)


class Settings(
    LoggingSettings,
    HttpSettings,
    StateSettings,
    KafkaSettings,
    ReconciliationSettings,
    PollingSettings,
    AllegroSettings,
):
    """Every group (its fields in GROUPS' order); the rules that span two of them."""

    model_config = _FLAT

    @model_validator(mode="after")
    def _no_demo_key_for_allegro(self) -> Self:
        key = self.token_encryption_key
        if key is None or key.get_secret_value().strip() != COMPOSE_DEMO_KEY:
            return self
        hosts = {urlsplit(url).hostname or "" for url in (self.api_url, self.auth_url)}
        if all(is_loopback(host) for host in hosts):
            return self
        raise ValueError(
            "TOKEN_ENCRYPTION_KEY is docker-compose.yml's public demo key, which may only be "
            "used with the simulator (a loopback ALLEGRO_API_URL); generate a key of your own "
            "with `openoms-allegro auth generate-key`"
        )


def _checked_url(url: str, variable: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return url.rstrip("/")
    raise ValueError(f"{variable} must be an https:// URL (plain http only for loopback hosts)")


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; raises ConfigurationError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(_first_error(exc)) from None
    except SettingsError as exc:  # a complex value (JSON) that does not parse
        raise ConfigurationError(_parse_error(exc)) from None


def _parse_error(exc: SettingsError) -> str:
    """pydantic-settings says 'error parsing value for field "x" from source ...'."""
    field = re.search(r'field "([^"]+)"', str(exc))
    variable = field.group(1).upper() if field else "a setting"
    # The decoder's message says where the JSON breaks, never what the value holds.
    detail = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
    example = _EXAMPLES.get(variable, "")
    return f"{variable}: not valid JSON{detail}{example}"


_EXAMPLES = {"ALLEGRO_STATUS_MAPPING": ' (expected an object, e.g. {"SENT": "in_transit"})'}


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    variable = loc[0].upper() if loc else ""
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"{variable} is required"
    if not variable:
        return message
    if message.startswith(("is ", "are ")):  # "X is empty: ..." reads better than "X: is"
        return f"{variable} {message}"
    return f"{variable}: {message}"
