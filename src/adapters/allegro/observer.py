"""Metrics hooks: the adapter reports every HTTP attempt and every rate-limit wait; an
observer that is also a `RateLimitWatcher` is handed each new bucket's reader, so that its
gauges can show how much of the budget is in use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class RateLimitUsage:
    """The token bucket at one moment (read-only: reading it takes nothing)."""

    per_minute: int  # the budget (ALLEGRO_RATE_LIMIT_PER_MINUTE)
    used: int  # requests sent in the bucket's trailing window (about a minute)
    tokens: float  # requests that would go out at once, burst included
    blocked_seconds: float  # left of a block after a 429; 0 when not blocked


class RequestObserver(Protocol):
    def request(self, endpoint: str, status: int | str, seconds: float) -> None:
        """One HTTP attempt; `endpoint` is a path template, `status` an HTTP code or error kind."""
        ...

    def rate_limit_wait(self, seconds: float) -> None:
        """Time a request spent waiting for the token bucket or a 429 block."""
        ...


@runtime_checkable
class RateLimitWatcher(Protocol):
    """Optional: observers without it (e.g. recording fakes) are simply not handed one."""

    def rate_limiter(self, usage: Callable[[], RateLimitUsage]) -> None:
        """A new bucket presents its reader (once, when it is built; the newest replaces the
        last); the watcher may call `usage` whenever it likes, e.g. at each scrape."""
        ...


class NullObserver(RequestObserver):
    def request(self, endpoint: str, status: int | str, seconds: float) -> None:
        pass

    def rate_limit_wait(self, seconds: float) -> None:
        pass
