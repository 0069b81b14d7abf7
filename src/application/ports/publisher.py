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


ORDERS = "orders"
DEAD_LETTERS = "dead_letters"
COMMAND_RESULTS = "command_results"  # one result per OpenOMS command (orders' and offers')
OFFERS = "offers"  # OfferChanged


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """An encoded record, opaque to the application: staged, then sent byte for byte."""

    channel: str  # ORDERS, DEAD_LETTERS, COMMAND_RESULTS or OFFERS
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


class EventEncoder(Protocol):
    """Pure: turns domain events and dead letters into the records that are staged."""

    def encode(
        self, events: Sequence[DomainEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        """The records that `send` will write: deterministic, so a replay is byte-identical."""
        ...


class MessageSender(Protocol):
    """Writes staged records as they are: the re-send of a staged batch needs only this."""

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        """Returns once every record is acknowledged by the broker; else raises PublishError."""
        ...


class EventPublisher(EventEncoder, MessageSender, Protocol):
    """Both halves, as one adapter (Kafka, in memory) provides them."""


async def publish(publisher: EventPublisher, events: Sequence[DomainEvent]) -> None:
    """`send(encode(events))`: for callers that need no staging between the two."""
    await publisher.send(publisher.encode(events))


async def publish_dead_letters(publisher: EventPublisher, letters: Sequence[DeadLetter]) -> None:
    """`send(encode((), letters))`."""
    await publisher.send(publisher.encode((), letters))
