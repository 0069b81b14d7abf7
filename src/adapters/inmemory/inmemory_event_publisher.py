"""EventPublisher kept in lists: tests assert on `published` and `dead_letters`."""

from __future__ import annotations

from collections.abc import Sequence

from application.ports.errors import PublishError
from application.ports.publisher import DeadLetter, EventPublisher
from domain.events import DomainEvent


class InMemoryEventPublisher(EventPublisher):
    def __init__(self) -> None:
        self.published: list[DomainEvent] = []
        self.dead_letters: list[DeadLetter] = []
        self._failures_left = 0

    def fail_next(self, n: int = 1) -> None:
        """Simulate a broker outage: the next `n` calls raise PublishError and record nothing."""
        self._failures_left = n

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        self._check_outage()
        self.published.extend(events)

    async def publish_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        self._check_outage()
        self.dead_letters.extend(letters)

    def _check_outage(self) -> None:
        if self._failures_left > 0:
            self._failures_left -= 1
            raise PublishError("simulated broker outage")
