"""Settings of one Allegro client: where to connect, who we are, how patient to be."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from adapters.allegro.budget_share import (
    DEFAULT_COMMANDS_MIN_SHARE,
    DEFAULT_IMPORT_MIN_SHARE,
    check_min_shares,
)

_LOOPBACK_NAMES = frozenset({"localhost"})
# Far above any real body: the largest, a list page of 100 full forms, is a small fraction
# of it (sizes in docs/performance.md).
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class AllegroClientConfig:
    api_url: str
    auth_url: str
    client_id: str
    client_secret: str = field(repr=False)
    account: str = "default"
    initial_refresh_token: str | None = field(default=None, repr=False)
    rate_limit_per_minute: int = 150
    rate_limit_burst: int = 5
    timeout_seconds: float = 30.0
    max_attempts: int = 6
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    # A 429 blocks the client id for a minute; Allegro documents no `Retry-After` for it
    # (docs/allegro-api.md, Errors and rate limits).
    rate_limit_block_seconds: float = 60.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # a larger 2xx body is malformed
    retry_after_max_seconds: float = 300.0  # longer Retry-After values are cut to this
    # The parts of the per-minute budget the import and the commands keep however busy the
    # other is (adapters/allegro/budget_share.py): each is capped at 1 - the other's share.
    import_min_share: float = DEFAULT_IMPORT_MIN_SHARE
    commands_min_share: float = DEFAULT_COMMANDS_MIN_SHARE

    def __post_init__(self) -> None:
        _check_url("api_url", self.api_url)
        _check_url("auth_url", self.auth_url)
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if not self.client_secret:
            raise ValueError("client_secret must not be empty")
        if self.rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be at least 1")
        if self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if self.backoff_initial < 0 or self.backoff_max < self.backoff_initial:
            raise ValueError("backoff needs 0 <= backoff_initial <= backoff_max")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        if self.rate_limit_block_seconds < 0:
            raise ValueError("rate_limit_block_seconds must not be negative")
        if not self.retry_after_max_seconds > 0:  # also rejects NaN
            raise ValueError("retry_after_max_seconds must be positive")
        check_min_shares(self.import_min_share, self.commands_min_share)

    @property
    def token_url(self) -> str:
        return f"{self.auth_url.rstrip('/')}/token"

    @property
    def device_url(self) -> str:
        return f"{self.auth_url.rstrip('/')}/device"


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"{name} uses plain http:// for {parts.hostname!r}; only loopback hosts "
            "(127.0.0.0/8, ::1, localhost) may use http://, use https:// otherwise"
        )


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
