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


def retry_after_seconds(value: str | None, now: datetime, date: str | None = None) -> float | None:
    """`Retry-After` as delta-seconds or an HTTP date; None when absent or unreadable.

    An HTTP date is measured from the response's own `Date` header when that is readable
    (both come from the server's clock, so a skewed local clock cannot stretch or shrink the
    wait); from `now` otherwise.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    when = _http_date(text)
    if when is None:
        return None
    sent = _http_date(date) if date is not None else None
    return max((when - (sent or now)).total_seconds(), 0.0)


def _http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
