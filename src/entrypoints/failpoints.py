"""Failpoints for crash tests: kill the process at the worst moments, on purpose.

Off unless `OPENOMS_FAILPOINTS` is set (never in production). Each failpoint SIGKILLs the
process with its probability per published batch, e.g.
`OPENOMS_FAILPOINTS=crash_after_publish:0.3,crash_before_publish:0.1`:

- `crash_after_publish`: after the broker acknowledged the batch and before the cursor and
  order records are committed (the replay must re-send the same events, byte for byte);
- `crash_before_publish`: after the batch was decided and before it reaches the broker
  (nothing may be lost: a cursor committed too early would skip the batch for good).
"""

from __future__ import annotations

import logging
import os
import random
import signal
from collections.abc import Mapping, Sequence

from application.ports import DeadLetter, EventPublisher, OutboundMessage
from domain.events import DomainEvent

log = logging.getLogger(__name__)
CRASH_AFTER_PUBLISH = "crash_after_publish"
CRASH_BEFORE_PUBLISH = "crash_before_publish"
KNOWN = frozenset({CRASH_AFTER_PUBLISH, CRASH_BEFORE_PUBLISH})


def parse(spec: str) -> dict[str, float]:
    """`name[:probability],...` -> {name: probability}; a bare name means always."""
    points: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, probability = item.partition(":")
        if name not in KNOWN:
            # A typo must not quietly turn a crash test into a test that crashes nothing.
            raise ValueError(f"OPENOMS_FAILPOINTS: unknown failpoint {name!r}")
        points[name] = float(probability or "1")
    return points


class CrashingPublisher(EventPublisher):
    def __init__(
        self, inner: EventPublisher, points: Mapping[str, float], rng: random.Random
    ) -> None:
        self._inner = inner
        self._points = dict(points)
        self._rng = rng

    def encode(
        self, events: Sequence[DomainEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        return self._inner.encode(events, dead_letters)

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        self._maybe_crash(CRASH_BEFORE_PUBLISH, len(messages))
        await self._inner.send(messages)
        self._maybe_crash(CRASH_AFTER_PUBLISH, len(messages))

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        await self.send(self.encode(events))

    async def publish_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        await self.send(self.encode((), letters))

    def _maybe_crash(self, point: str, events: int) -> None:
        probability = self._points.get(point, 0.0)
        if events and probability and self._rng.random() < probability:
            log.warning(f"failpoint {point}: SIGKILL", extra={"events": events})
            os.kill(os.getpid(), signal.SIGKILL)


def wrap_publisher(publisher: EventPublisher, spec: str) -> EventPublisher:
    points = parse(spec)
    if points:
        return CrashingPublisher(publisher, points, random.Random())
    return publisher
