"""Metrics hook: the adapter reports every HTTP attempt and every rate-limit wait."""

from __future__ import annotations

from typing import Protocol


class RequestObserver(Protocol):
    def request(self, endpoint: str, status: int | str, seconds: float) -> None:
        """One HTTP attempt; `endpoint` is a path template, `status` an HTTP code or error kind."""
        ...

    def rate_limit_wait(self, seconds: float) -> None:
        """Time a request spent waiting for the token bucket or a 429 block."""
        ...


class NullObserver(RequestObserver):
    def request(self, endpoint: str, status: int | str, seconds: float) -> None:
        pass

    def rate_limit_wait(self, seconds: float) -> None:
        pass
