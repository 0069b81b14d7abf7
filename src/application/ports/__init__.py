"""Ports: small Protocols named by role. Adapters subclass them so mypy checks signatures."""

from application.ports.allegro import (
    CheckoutFormPage,
    CheckoutFormQuery,
    CheckoutFormReader,
    JournalEvent,
    OrderEventJournal,
    UnreadableCheckoutForm,
)
from application.ports.clock import Clock, SystemClock
from application.ports.errors import (
    AllegroAuthError,
    AllegroError,
    AllegroRejected,
    AllegroUnavailable,
    CheckoutFormNotFound,
    MalformedCheckoutForm,
    PortError,
    PublishError,
    StateStoreError,
)
from application.ports.publisher import (
    DEAD_LETTERS,
    ORDERS,
    DeadLetter,
    EventPublisher,
    OutboundMessage,
)
from application.ports.state import Cursor, StagedBatch, StateStore, TokenPair, TokenStore

__all__ = [
    "DEAD_LETTERS",
    "ORDERS",
    "AllegroAuthError",
    "AllegroError",
    "AllegroRejected",
    "AllegroUnavailable",
    "CheckoutFormNotFound",
    "CheckoutFormPage",
    "CheckoutFormQuery",
    "CheckoutFormReader",
    "Clock",
    "Cursor",
    "DeadLetter",
    "EventPublisher",
    "JournalEvent",
    "MalformedCheckoutForm",
    "OrderEventJournal",
    "OutboundMessage",
    "PortError",
    "PublishError",
    "StagedBatch",
    "StateStore",
    "StateStoreError",
    "SystemClock",
    "TokenPair",
    "TokenStore",
    "UnreadableCheckoutForm",
]
