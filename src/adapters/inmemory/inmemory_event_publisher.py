"""EventEncoder, OfferEncoder and MessageSender kept in lists: tests assert on `published`,
`offers`, `dead_letters`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from application.ports.offers import OfferEncoder
from application.ports.publisher import (
    DEAD_LETTERS,
    OFFERS,
    ORDERS,
    DeadLetter,
    EventPublisher,
    OutboundMessage,
)
from domain.events import DomainEvent
from domain.offers import OfferChanged


class InMemoryEventPublisher(EventPublisher, OfferEncoder):
    """Encodes a message as its id; `send` looks the object up again, so `published` (order
    events, channel ORDERS) and `offers` (`OfferChanged`, channel OFFERS) hold the domain
    objects themselves (and a re-sent staged message appears twice, as on Kafka).

    After `limit_message_size`, an event over the limit is encoded as a dead letter in its
    place, as the Kafka publisher does with an event over its maximum message size.

    Set `fail_with` (a `PublishError`, as the port promises for an outage) to make every
    `send` raise it and record nothing, until it is set back to None: the same outage switch
    as the in-memory stores'."""

    def __init__(self) -> None:
        self.published: list[DomainEvent] = []
        self.offers: list[OfferChanged] = []
        self.dead_letters: list[DeadLetter] = []
        self.sent: list[OutboundMessage] = []
        self._encoded: dict[bytes, DomainEvent | OfferChanged | DeadLetter] = {}
        self.fail_with: Exception | None = None
        self._size_limit: tuple[int, Callable[[DomainEvent], int]] | None = None

    def limit_message_size(self, max_bytes: int, size_of: Callable[[DomainEvent], int]) -> None:
        """From now on an event whose `size_of` is over `max_bytes` is dead-lettered. The
        caller passes the real measure (the Kafka encoder's: adapters do not import each
        other), so this fake refuses exactly the events Kafka would."""
        self._size_limit = (max_bytes, size_of)

    def encode(
        self, events: Sequence[DomainEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        return [self._event_message(e) for e in events] + [
            self._dead_letter_message(d) for d in dead_letters
        ]

    def encode_offers(
        self, events: Sequence[OfferChanged], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        return [self._remember(OFFERS, e.offer_id, f"offer/{e.event_id}", e) for e in events] + [
            self._dead_letter_message(d) for d in dead_letters
        ]

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        self._check_outage()
        for message in messages:
            self.sent.append(message)
            item = self._encoded.get(message.value)
            if item is None:
                continue  # encoded elsewhere (a command result): kept in `sent` only
            if isinstance(item, DeadLetter):
                self.dead_letters.append(item)
            elif isinstance(item, OfferChanged):
                self.offers.append(item)
            else:
                self.published.append(item)

    def _event_message(self, event: DomainEvent) -> OutboundMessage:
        letter = self._oversize(event)
        if letter is not None:
            return self._dead_letter_message(letter)
        return self._remember(ORDERS, event.external_id, str(event.event_id), event)

    def _oversize(self, event: DomainEvent) -> DeadLetter | None:
        """The dead letter standing in for an event over the size limit, else None."""
        if self._size_limit is None:
            return None
        limit, size_of = self._size_limit
        size = size_of(event)
        if size <= limit:
            return None
        return DeadLetter(
            account=event.account,
            checkout_form_id=event.external_id,
            allegro_event_id=None,
            raw_payload=repr(event),
            error=f"record of {size} bytes is over the maximum message size ({limit})",
            attempts=1,
            failed_at=event.occurred_at,
        )

    def _dead_letter_message(self, letter: DeadLetter) -> OutboundMessage:
        ident = f"{letter.checkout_form_id}/{letter.allegro_event_id}/{letter.attempts}"
        return self._remember(DEAD_LETTERS, letter.checkout_form_id, ident, letter)

    def _remember(
        self, channel: str, key: str, ident: str, item: DomainEvent | OfferChanged | DeadLetter
    ) -> OutboundMessage:
        value = ident.encode()
        self._encoded[value] = item
        return OutboundMessage(channel, key.encode(), value, ())

    def _check_outage(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with
