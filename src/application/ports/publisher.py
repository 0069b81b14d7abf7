"""Where domain events go (Kafka in production)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.events import DomainEvent


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input quarantined after repeated mapping failures, with everything to replay it."""

    account: str
    checkout_form_id: str
    allegro_event_id: str | None
    raw_payload: str
    error: str
    attempts: int
    failed_at: datetime


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[DomainEvent]) -> None:
        """Returns once every event is acknowledged by the broker; else raises PublishError."""
        ...

    async def publish_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Same guarantee, to the dead-letter topic."""
        ...
