"""EventPublisher kept in lists: tests assert on `published` and `dead_letters`."""

from __future__ import annotations

from collections.abc import Sequence

from application.ports.errors import PublishError
from application.ports.publisher import (
    DEAD_LETTERS,
    ORDERS,
    DeadLetter,
    EventPublisher,
    OutboundMessage,
)
from domain.events import DomainEvent


class InMemoryEventPublisher(EventPublisher):
    """Encodes a message as its id; `send` looks the object up again, so `published` holds
    the domain objects themselves (and a re-sent staged message appears twice, as on Kafka).

    With `max_message_bytes`, an event whose `repr` is longer (in UTF-8 bytes: a stand-in for
    its encoded size) is encoded as a dead letter instead, as the Kafka publisher does with an
    event over its maximum message size."""

    def __init__(self, max_message_bytes: int | None = None) -> None:
        self.max_message_bytes = max_message_bytes
        self.published: list[DomainEvent] = []
        self.dead_letters: list[DeadLetter] = []
        self.sent: list[OutboundMessage] = []
        self._encoded: dict[bytes, DomainEvent | DeadLetter] = {}
        self._failures_left = 0

    def fail_next(self, n: int = 1) -> None:
        """Simulate a broker outage: the next `n` calls raise PublishError and record nothing."""
        self._failures_left = n

    def encode(
        self, events: Sequence[DomainEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        messages = []
        for event in events:
            oversize = self._oversize(event)
            if oversize is None:
                ident = str(event.event_id)
                messages.append(self._remember(ORDERS, event.external_id, ident, event))
            else:
                dead_letters = (*dead_letters, oversize)
        for letter in dead_letters:
            ident = f"{letter.checkout_form_id}/{letter.allegro_event_id}/{letter.attempts}"
            messages.append(self._remember(DEAD_LETTERS, letter.checkout_form_id, ident, letter))
        return messages

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        self._check_outage()
        for message in messages:
            self.sent.append(message)
            item = self._encoded[message.value]
            if isinstance(item, DeadLetter):
                self.dead_letters.append(item)
            else:
                self.published.append(item)

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        await self.send(self.encode(events))

    async def publish_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        await self.send(self.encode((), letters))

    def _oversize(self, event: DomainEvent) -> DeadLetter | None:
        """The dead letter standing in for an event over `max_message_bytes`, else None."""
        text = repr(event)
        size, limit = len(text.encode()), self.max_message_bytes
        if limit is None or size <= limit:
            return None
        return DeadLetter(
            account=event.account,
            checkout_form_id=event.external_id,
            allegro_event_id=None,
            raw_payload=text[:limit],
            error=f"record of {size} bytes is over the maximum message size ({limit})",
            attempts=1,
            failed_at=event.occurred_at,
        )

    def _remember(
        self, channel: str, key: str, ident: str, item: DomainEvent | DeadLetter
    ) -> OutboundMessage:
        value = ident.encode()
        self._encoded[value] = item
        return OutboundMessage(channel, key.encode(), value, ())

    def _check_outage(self) -> None:
        if self._failures_left > 0:
            self._failures_left -= 1
            raise PublishError("simulated broker outage")
