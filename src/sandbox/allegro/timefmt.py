"""Allegro's date-time strings: UTC, `Z`, usually with milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

_MICROS = 1_000_000


def iso_millis(us: int) -> str:
    """`2026-03-14T09:15:22.481Z` from microseconds since the epoch."""
    seconds, rest = divmod(us, _MICROS)
    return f"{_second(seconds)}.{rest // 1000:03d}Z"


def iso_seconds(us: int) -> str:
    """`2026-03-16T07:00:00Z`: some fields (delivery windows) come without milliseconds."""
    return f"{_second(us // _MICROS)}Z"


@lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    # strftime dominates bulk generation; events come in bursts within the same second.
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_datetime(text: str) -> int:
    """Microseconds since the epoch from an ISO-8601 query value; naive means UTC."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _MICROS + delta.microseconds


def to_micros(seconds: float) -> int:
    return round(seconds * _MICROS)
