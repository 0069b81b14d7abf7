"""Allegro's per-client-id limit: N requests in any sliding minute, then a block."""

from __future__ import annotations

from collections import deque

WINDOW_SECONDS = 60.0


class SlidingWindowLimiter:
    def __init__(self, limit: int, block_seconds: float) -> None:
        self._limit = limit
        self._block_seconds = block_seconds
        self._hits: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def admit(self, client_id: str, now: float) -> bool:
        """Count one request; False means answer 429 (and a block has started)."""
        if self.is_blocked(client_id, now):
            return False
        hits = self._hits.setdefault(client_id, deque())
        while hits and hits[0] <= now - WINDOW_SECONDS:
            hits.popleft()
        if len(hits) >= self._limit:
            self.block(client_id, now)
            return False
        hits.append(now)
        return True

    def is_blocked(self, client_id: str, now: float) -> bool:
        until = self._blocked_until.get(client_id)
        if until is None:
            return False
        if now < until:
            return True
        del self._blocked_until[client_id]
        return False

    def block(self, client_id: str, now: float) -> None:
        self._blocked_until[client_id] = now + self._block_seconds
        # "Restored automatically" after the block: the client starts a fresh window.
        self._hits.pop(client_id, None)

    def blocked_clients(self, now: float) -> list[str]:
        return [c for c in list(self._blocked_until) if self.is_blocked(c, now)]


class PerSecondLimiter:
    """A resource's own cap: at most `limit` requests in any sliding second per key.

    No block follows: the next request after the window has moved on is admitted.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._hits: dict[str, deque[float]] = {}

    def admit(self, key: str, now: float) -> bool:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - 1.0:
            hits.popleft()
        if len(hits) >= self._limit:
            return False
        hits.append(now)
        return True
