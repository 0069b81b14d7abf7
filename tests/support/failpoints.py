"""Failpoints for crash tests: kill the process at the worst moments, on purpose.

Test code only: the service never wraps its publisher. `install` overrides the composition
root's publisher provider, so every container the process builds afterwards publishes through
a `CrashingPublisher`; `tests/support/failpoint_cli.py` does that before it runs the normal
CLI. Each failpoint SIGKILLs the process with its probability per published batch, e.g.
`crash_after_publish:0.3,crash_before_publish:0.1`:

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

from dependency_injector import providers

from application.ports import DeadLetter, EventPublisher, OutboundMessage
from domain.events import DomainEvent
from entrypoints.containers import Application

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
    """`channels`: only a send holding a message of these channels may be killed (e.g. the
    command results alone, so the import's batches pass untouched); None: any send."""

    def __init__(
        self,
        inner: EventPublisher,
        points: Mapping[str, float],
        rng: random.Random,
        channels: frozenset[str] | None = None,
    ) -> None:
        self._inner = inner
        self._points = dict(points)
        self._rng = rng
        self._channels = channels

    def encode(
        self, events: Sequence[DomainEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        return self._inner.encode(events, dead_letters)

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        counted = sum(1 for m in messages if self._channels is None or m.channel in self._channels)
        self._maybe_crash(CRASH_BEFORE_PUBLISH, counted)
        await self._inner.send(messages)
        self._maybe_crash(CRASH_AFTER_PUBLISH, counted)

    def _maybe_crash(self, point: str, events: int) -> None:
        probability = self._points.get(point, 0.0)
        if events and probability and self._rng.random() < probability:
            log.warning(f"failpoint {point}: SIGKILL", extra={"events": events})
            os.kill(os.getpid(), signal.SIGKILL)


def wrap_publisher(
    publisher: EventPublisher, spec: str, channels: frozenset[str] | None = None
) -> EventPublisher:
    points = parse(spec)
    if points:
        return CrashingPublisher(publisher, points, random.Random(), channels)
    return publisher


def install(spec: str, channels: frozenset[str] | None = None) -> None:
    """Every `Application` built from now on in this process publishes through `spec`'s
    failpoints. An override on the class's nested provider is copied into each instance and
    bound to that instance's own Kafka producer (the one its runtime checks and closes)."""
    gateways = Application.gateways
    gateways.publisher.override(
        providers.Callable(wrap_publisher, gateways.kafka_publisher, spec, channels)
    )


def uninstall() -> None:
    Application.gateways.publisher.reset_override()
