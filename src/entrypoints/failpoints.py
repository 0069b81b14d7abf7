"""Failpoints for crash tests: kill the process at the worst moments, on purpose.

Off unless `OPENOMS_FAILPOINTS` is set (never in production), e.g.
`OPENOMS_FAILPOINTS=crash_after_publish:0.3` kills the process with SIGKILL, with
probability 0.3 per batch, after the broker acknowledged the batch and before the cursor
and order records are committed.
"""

from __future__ import annotations

import logging
import os
import random
import signal
from collections.abc import Sequence

from application.ports import DeadLetter, EventPublisher
from domain.events import DomainEvent

log = logging.getLogger(__name__)
CRASH_AFTER_PUBLISH = "crash_after_publish"


def parse(spec: str) -> dict[str, float]:
    points: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, probability = item.partition(":")
        points[name] = float(probability or "1")
    return points


class CrashingPublisher(EventPublisher):
    def __init__(self, inner: EventPublisher, probability: float, rng: random.Random) -> None:
        self._inner = inner
        self._probability = probability
        self._rng = rng

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        await self._inner.publish(events)
        self._maybe_crash(len(events))

    async def publish_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        await self._inner.publish_dead_letters(letters)

    def _maybe_crash(self, published: int) -> None:
        if published and self._rng.random() < self._probability:
            log.warning("failpoint crash_after_publish: SIGKILL", extra={"events": published})
            os.kill(os.getpid(), signal.SIGKILL)


def wrap_publisher(publisher: EventPublisher, spec: str) -> EventPublisher:
    points = parse(spec)
    if CRASH_AFTER_PUBLISH in points:
        return CrashingPublisher(publisher, points[CRASH_AFTER_PUBLISH], random.Random())
    return publisher
