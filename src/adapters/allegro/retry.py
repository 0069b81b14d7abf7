"""When and how long to wait before trying a request again."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from adapters.allegro.timing import Jitter, full_jitter

# Transient transport failures: worth another attempt. (Bad URLs, TLS setup errors and the
# like are not: they fail the same way every time.)
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff with full jitter: uniform(0, min(cap, initial * 2**(n-1)))."""

    max_attempts: int
    initial: float
    cap: float
    jitter: Jitter = full_jitter

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the wait after the `attempt`-th failure (1-based)."""
        return min(self.cap, self.initial * 2.0 ** (attempt - 1))

    def delay(self, attempt: int) -> float:
        return min(max(self.jitter(self.ceiling(attempt)), 0.0), self.cap)


def is_retryable_status(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as delta-seconds or an HTTP date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)
