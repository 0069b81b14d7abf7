"""Waking a backing-off poll loop when the cause of its failures may be gone.

The loop backs off up to a minute (`poll_loop.MAX_BACKOFF_SECONDS`); an operator who just ran
`auth login` or brought the broker back should not wait that out. While the loop fails, the
token store and the dependencies are looked at every `RECOVERY_WATCH_SECONDS`: a new token
pair (saved by `auth login` from another process) or a dependency answering again after it
did not wakes the loop at once. Nothing is looked at while the loop succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from application.ports.errors import PortError
from application.ports.state import TokenPair, TokenStore

log = logging.getLogger(__name__)

# How often the watch looks while the loop fails, and how long one look may take: a fix is
# noticed within about twice this many seconds.
RECOVERY_WATCH_SECONDS = 2.0

Check = Callable[[], Awaitable[bool]]


class Wakeable(Protocol):
    """What the watch needs of the poll loop (`application.poll_loop.PollLoop`)."""

    @property
    def failing(self) -> bool: ...

    def wake(self) -> None: ...


async def watch_recovery(
    loop: Wakeable,
    stop: asyncio.Event,
    token_store: TokenStore,
    account: str,
    checks: Mapping[str, Check],
    period: float = RECOVERY_WATCH_SECONDS,
) -> None:
    """Runs until `stop`; `checks`: dependency name -> an async health check."""
    tokens = TokenWatch(token_store, account, period)
    dependencies = DependencyWatch(checks, period)
    while not await _stopped_within(stop, period):
        if not loop.failing:
            tokens.forget()
            dependencies.forget()
            continue
        reasons = [r for r in (await tokens.changed(), await dependencies.recovered()) if r]
        if reasons and not stop.is_set():
            log.info(
                "waking the poll loop", extra={"account": account, "reason": "; ".join(reasons)}
            )
            loop.wake()


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


class TokenWatch:
    """Notices a new token pair in the store (or a first one). Only a digest of the stored
    pair is kept and compared, never logged: the pair itself is a secret."""

    def __init__(self, store: TokenStore, account: str, timeout: float) -> None:
        self._store = store
        self._account = account
        self._timeout = timeout
        self._looked = False
        self._seen: bytes | None = None  # the digest at the last look; None: nothing stored

    def forget(self) -> None:
        self._looked, self._seen = False, None

    async def changed(self) -> str | None:
        try:
            async with asyncio.timeout(self._timeout):
                pair = await self._store.load(self._account)
        except (PortError, TimeoutError, OSError):
            return None  # the store itself is watched as a dependency
        digest = None if pair is None else _digest(pair)
        looked, previous = self._looked, self._seen
        self._looked, self._seen = True, digest
        if looked and digest is not None and digest != previous:
            return "new tokens in the store"
        return None


def _digest(pair: TokenPair) -> bytes:
    text = "\0".join((pair.refresh_token, pair.access_token, pair.expires_at.isoformat()))
    return hashlib.sha256(text.encode()).digest()


class DependencyWatch:
    """Notices a dependency that answers again after it did not."""

    def __init__(self, checks: Mapping[str, Check], timeout: float) -> None:
        self._checks = dict(checks)
        self._timeout = timeout
        self._down: set[str] = set()

    def forget(self) -> None:
        self._down.clear()

    async def recovered(self) -> str | None:
        names = list(self._checks)
        results = await asyncio.gather(*(self._answers(self._checks[name]) for name in names))
        up = {name for name, ok in zip(names, results, strict=True) if ok}
        back = sorted(self._down & up)
        self._down = set(names) - up
        return f"{', '.join(back)} answering again" if back else None

    async def _answers(self, check: Check) -> bool:
        """A check that raises or does not answer within the period has failed."""
        try:
            async with asyncio.timeout(self._timeout):
                return await check()
        except (PortError, TimeoutError, OSError):
            return False
