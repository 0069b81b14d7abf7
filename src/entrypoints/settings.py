"""Typed configuration from the environment (the public interface: keep names stable).

Nothing reads the environment at import time: `load_settings()` is called by the CLI and
its errors become one line naming the variable, with exit code 2.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.kafka.messages import DEFAULT_MAX_MESSAGE_BYTES, MIN_MAX_MESSAGE_BYTES
from adapters.persistence.url import parse_state_url
from domain.policy import ImportTrigger

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

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
    allegro_status_mapping: dict[str, str] = Field(default_factory=dict)
    allegro_timeout_seconds: float = Field(default=30.0, gt=0)
    # A larger 2xx body is malformed: a list page of 100 forms is ~0.3 MB.
    allegro_max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=64 * 1024, le=1024**3)
    allegro_retry_after_max_seconds: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    allegro_bulk_reads: bool = True  # read checkout forms through list pages where it pays
    poll_interval_seconds: float = Field(default=15.0, gt=0)
    batch_size: int = Field(default=1000, ge=1, le=1000)
    batch_pages: int = Field(default=4, ge=1, le=20)  # journal pages per batch in a backlog
    dead_letter_after_attempts: int = Field(default=3, ge=1)
    reconcile_interval_seconds: float = Field(default=3600.0, ge=0)  # 0 disables
    reconcile_lookback_hours: float = Field(default=72.0, gt=0)
    reconcile_deep_interval_hours: float = Field(default=24.0, ge=0)  # 0 disables
    reconcile_deep_lookback_days: float = Field(default=30.0, gt=0, le=365)

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
    kafka_compression_type: Literal["gzip", "snappy", "lz4", "zstd", "none"] = "gzip"
    # Largest record published (key + value + headers + framing, before compression); a larger
    # event goes to the DLQ as a truncated stub (see adapters/kafka/messages.record_size).
    kafka_max_message_bytes: int = Field(
        default=DEFAULT_MAX_MESSAGE_BYTES, ge=MIN_MAX_MESSAGE_BYTES, le=2**31 - 1
    )

    # May carry a password (shown redacted by `status`: adapters.persistence.redact_url).
    state_url: str = Field(default="sqlite:///var/openoms-allegro/state.db", repr=False)
    token_encryption_key: SecretStr | None = None
    # PostgreSQL only: several replicas, one leader per account (see entrypoints/leadership).
    lease_ttl_seconds: float = Field(default=30.0, ge=1, le=3600)
    lease_wait_seconds: float = Field(default=60.0, ge=0, le=3600)  # one-shot commands; 0: none
    lag_probe_seconds: float = Field(default=30.0, gt=0)
    http_host: str = "127.0.0.1"  # the container image sets 0.0.0.0 (see the Dockerfile)
    http_port: int = Field(default=8080, ge=0, le=65535)
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"
    openoms_failpoints: str = ""  # crash tests only; see entrypoints/failpoints.py

    @field_validator("state_url")
    @classmethod
    def _state_url(cls, value: str) -> str:
        parse_state_url(value)  # its ValueError names the problem, never the password
        return value

    @field_validator("allegro_start_from")
    @classmethod
    def _start_from(cls, value: str) -> str:
        if value in ("latest", "earliest") or value.isdigit():
            return value
        raise ValueError("must be 'latest', 'earliest' or a journal event id (digits)")

    @model_validator(mode="after")
    def _urls(self) -> Settings:
        api, auth = ENVIRONMENTS[self.allegro_environment]
        self.allegro_api_url = _checked_url(self.allegro_api_url or api, "ALLEGRO_API_URL")
        self.allegro_auth_url = _checked_url(self.allegro_auth_url or auth, "ALLEGRO_AUTH_URL")
        return self

    @model_validator(mode="after")
    def _no_demo_key_for_allegro(self) -> Settings:
        key = self.token_encryption_key
        if key is None or key.get_secret_value().strip() != COMPOSE_DEMO_KEY:
            return self
        hosts = {urlsplit(url).hostname or "" for url in (self.api_url, self.auth_url)}
        if all(_is_loopback(host) for host in hosts):
            return self
        raise ValueError(
            "TOKEN_ENCRYPTION_KEY is docker-compose.yml's public demo key, which may only be "
            "used with the simulator (a loopback ALLEGRO_API_URL); generate a key of your own "
            "with `openoms-allegro auth generate-key`"
        )

    @model_validator(mode="after")
    def _deep_sweep(self) -> Settings:
        if self.reconcile_deep_interval_hours > 0 and (
            self.reconcile_deep_lookback_days * 24 <= self.reconcile_lookback_hours
        ):
            raise ValueError(
                "RECONCILE_DEEP_LOOKBACK_DAYS must reach further back than "
                "RECONCILE_LOOKBACK_HOURS (the deep sweep covers what the light one does not); "
                "RECONCILE_DEEP_INTERVAL_HOURS=0 turns the deep sweep off"
            )
        return self

    @property
    def api_url(self) -> str:
        assert self.allegro_api_url is not None  # set by the validator
        return self.allegro_api_url

    @property
    def auth_url(self) -> str:
        assert self.allegro_auth_url is not None
        return self.allegro_auth_url

    def require_kafka(self) -> str:
        if not self.kafka_bootstrap_servers:
            raise ConfigurationError("KAFKA_BOOTSTRAP_SERVERS is required for this command")
        return self.kafka_bootstrap_servers


def _checked_url(url: str, variable: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url.rstrip("/")
    raise ValueError(f"{variable} must be an https:// URL (plain http only for loopback hosts)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; raises ConfigurationError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(_first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    variable = loc[0].upper() if loc else ""
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"{variable} is required"
    if not variable:
        return message
    return f"{variable}: {message}"
