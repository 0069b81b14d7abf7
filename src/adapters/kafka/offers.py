"""The offer topics' wire contract (docs/offers.md): OpenOMS's `SetStock`/`SetPrice` commands
in, `OfferChanged` events out.

Every byte read is untrusted: a record of the offer-commands topic is read into a command, an
`invalid` answer (a command id was there, the rest broke the schema or the command's rules),
a reject for the dead-letter topic (no command at all), or another account's command
(skipped), exactly as the order commands are (`commands.py`). An `invalid` answer says which
field broke and why, never the value itself.

Encoding is deterministic: the same `OfferChanged` gives the same key, value and headers, so a
staged batch re-sent after a crash is byte-identical.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adapters.kafka.commands import first_problem, is_foreign, open_record
from adapters.kafka.messages import (
    DEFAULT_MAX_MESSAGE_BYTES,
    CurrencyCode,
    DecimalString,
    KafkaRecord,
    UtcTimestamp,
    ce_source,
    cloudevent_headers,
    decimal_string,
    encode_dead_letter,
    oversize_error,
    quarantine_record,
    record_size,
    utc_timestamp,
)
from application.ports.commands import Position, Received
from application.ports.offers import OfferEncoder
from application.ports.publisher import DEAD_LETTERS, OFFERS, DeadLetter, OutboundMessage
from domain.commands import CommandFailed, FailureReason, InvalidCommand
from domain.errors import DomainError
from domain.money import Money
from domain.offers import (
    MARKETPLACE_PATTERN,
    MAX_SKU,
    MAX_STOCK,
    OfferChanged,
    OfferCommand,
    SetPrice,
    SetStock,
)

CE_TYPE_SET_STOCK = "openoms.allegro.set_stock.v1"
CE_TYPE_SET_PRICE = "openoms.allegro.set_price.v1"
CE_TYPE_OFFER_CHANGED = "openoms.offer.changed.v1"
_MAX_ID = 128
_MAX_TEXT = 512
# An amount is a plain decimal with at most 2 digits after the point, at most 12 before it
# (below Money's 10^12): no exponent, no sign, no spaces, so `1E+100000000` never reaches
# Decimal and the text length is bounded before anything is parsed.
_AMOUNT = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,2})?$")
_MARKETPLACE = MARKETPLACE_PATTERN

Id = Annotated[str, Field(min_length=1, max_length=_MAX_ID)]
Sku = Annotated[str, Field(min_length=1, max_length=MAX_SKU)]


# --- commands in -------------------------------------------------------------------------


class _OfferCommand(BaseModel):
    # As for the order commands: unknown fields are ignored (a newer OpenOMS may send more
    # within v1), types are strict (a number where a string belongs is a broken command).
    # The attribute docstrings are the fields' descriptions in contracts/.
    model_config = ConfigDict(
        extra="ignore", strict=True, frozen=True, use_attribute_docstrings=True
    )

    command_id: uuid.UUID = Field(strict=False)
    """Chosen by the sender, one per command: the command is answered by exactly one result
    with this id."""
    account: Id
    """The `ALLEGRO_ACCOUNT` the command is for: every account's service reads the topic and
    skips the other accounts' commands."""
    sku: Sku
    """The seller's SKU: every offer whose `external.id` equals it is changed. Also the
    record key, so that one SKU's commands are applied in order (the latest value wins)."""

    @field_validator("sku")
    @classmethod
    def _trimmed(cls, sku: str) -> str:
        if sku != sku.strip():
            raise ValueError("must have no surrounding spaces")
        return sku


class SetStockMessage(_OfferCommand):
    """`ce_type` openoms.allegro.set_stock.v1: set the available stock of a SKU's offers on
    Allegro. 0 ends the offers (Allegro refuses a quantity of 0); a stock above 0 for offers
    the service ended, or Allegro ended for empty stock, sets the quantity and re-activates
    them. Consumed by the service, which ignores fields it does not know."""

    command_type: Literal["SetStock"]
    """Which command this is: what the service reads it by."""
    available: Annotated[int, Field(ge=0, le=MAX_STOCK)]
    """The stock to show, an integer 0..2147483647."""


class SetPriceMessage(_OfferCommand):
    """`ce_type` openoms.allegro.set_price.v1: set the Buy Now price of a SKU's offers on one
    Allegro marketplace. Consumed by the service, which ignores fields it does not know."""

    command_type: Literal["SetPrice"]
    """Which command this is: what the service reads it by."""
    amount: Annotated[str, Field(pattern=_AMOUNT.pattern, max_length=15)]
    """The price, a decimal string above 0 with at most 2 digits after the point (`12.50`)."""
    currency: CurrencyCode
    """The price's currency; the marketplace's own (PLN on allegro-pl)."""
    marketplace: Annotated[str, Field(pattern=_MARKETPLACE)] | None = None
    """The Allegro marketplace id (`allegro-pl`, `allegro-cz`, ...); absent: the offers' base
    marketplace."""


_MESSAGES: dict[str, type[SetStockMessage] | type[SetPriceMessage]] = {
    "SetStock": SetStockMessage,
    "SetPrice": SetPriceMessage,
}


def decode_offer_command(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    timestamp_ms: int | None,
    position: Position,
    account: str,
) -> Received[OfferCommand]:
    """One record of the offer-commands topic, read as far as it can be (see the module
    docstring)."""
    opened = open_record(value, headers, timestamp_ms)
    at, raw, document, command_id = opened.at, opened.raw, opened.document, opened.command_id
    if opened.unreadable is not None or command_id is None:
        return Received[OfferCommand](position, at, raw, unreadable=opened.unreadable)
    if is_foreign(document, account):
        return Received[OfferCommand](position, at, raw, foreign=True)

    def refused(why: str) -> Received[OfferCommand]:
        return _refused(position, at, raw, document, command_id, account, why)

    command_type = document.get("command_type")
    model = _MESSAGES.get(command_type) if isinstance(command_type, str) else None
    if model is None:
        return refused("command_type is not a known offer command")
    try:
        message = model.model_validate(document)
    except ValidationError as exc:
        return refused(first_problem(exc))
    try:
        command = _command(message)
    except (InvalidCommand, DomainError) as exc:
        return refused(str(exc))
    return Received[OfferCommand](position, at, raw, command=command)


def _command(message: SetStockMessage | SetPriceMessage) -> OfferCommand:
    if isinstance(message, SetStockMessage):
        return SetStock(
            command_id=message.command_id,
            account=message.account,
            sku=message.sku,
            available=message.available,
        )
    amount = Decimal(message.amount)  # a plain decimal: the field's pattern admits no other
    if amount <= 0:
        # Checked here, not left to Money/SetPrice, so that the answer is this fixed text
        raise InvalidCommand("amount: must be above zero")
    return SetPrice(
        command_id=message.command_id,
        account=message.account,
        sku=message.sku,
        price=Money(amount, message.currency),
        marketplace=message.marketplace,
    )


def _refused(
    position: Position,
    at: datetime,
    raw: str,
    document: dict[str, object],
    command_id: uuid.UUID,
    account: str,
    why: str,
) -> Received[OfferCommand]:
    """An `invalid` answer, keyed by the SKU when the command has a usable one (else by its
    command id). It is this account's: a command naming another account was skipped."""

    def text(name: str, limit: int) -> str | None:
        value = document.get(name)
        return value if isinstance(value, str) and 0 < len(value) <= limit else None

    command_type = document.get("command_type")
    failed = CommandFailed(
        command_id=str(command_id),  # canonical, as a valid command's result carries it
        command_type=command_type
        if isinstance(command_type, str) and command_type in _MESSAGES
        else None,
        account=account,
        checkout_form_id=None,
        occurred_at=at,
        reason=FailureReason.INVALID,
        message=why[:_MAX_TEXT],
        sku=text("sku", MAX_SKU),
    )
    return Received[OfferCommand](position, at, raw, refused=failed)


# --- events out --------------------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class OfferPrice(_Message):
    """An offer's Buy Now price on one marketplace."""

    marketplace: str
    """The Allegro marketplace id (`allegro-pl`, `allegro-cz`, ...)."""
    amount: DecimalString
    currency: CurrencyCode


class OfferChangedMessage(_Message):
    """`ce_type` openoms.offer.changed.v1: what an offer looks like on Allegro now, published
    when it differs from what was published for it last (a change made on Allegro, by the
    seller, by Allegro itself, or by this service's own commands)."""

    event_id: uuid.UUID
    """Deterministic (UUIDv5) over the offer, what was published before, what is published
    now and the Allegro event that revealed it: a replay has the same id."""
    event_type: Literal["OfferChanged"]
    occurred_at: UtcTimestamp
    """The offer's last change on Allegro (its `updatedAt`)."""
    account: str
    """Label of the Allegro seller account."""
    offer_id: str
    """Allegro's offer id (also the record key)."""
    sku: str | None
    """The seller's SKU (`external.id`); null when the offer has none."""
    stock_available: int | None
    """The stock Allegro shows; null when it shows none."""
    prices: list[OfferPrice]
    """The Buy Now price per marketplace: the base marketplace first, then the others by id."""
    publication_status: str
    """`INACTIVE`, `ACTIVATING`, `ACTIVE` or `ENDED`; Allegro may add values."""
    ended_by: str | None
    """Why an `ENDED` offer ended (`USER`, `ADMIN`, `EXPIRATION`, `EMPTY_STOCK`, ...); null
    otherwise."""


def offer_changed_message(event: OfferChanged) -> OfferChangedMessage:
    return OfferChangedMessage.model_validate(
        {
            "event_id": event.event_id,
            "event_type": "OfferChanged",
            "occurred_at": utc_timestamp(event.occurred_at),
            "account": event.account,
            "offer_id": event.offer_id,
            "sku": event.sku,
            "stock_available": event.stock_available,
            "prices": [
                {
                    "marketplace": p.marketplace,
                    "amount": decimal_string(p.price.amount),
                    "currency": p.price.currency,
                }
                for p in event.prices
            ],
            "publication_status": event.publication_status,
            "ended_by": event.ended_by,
        }
    )


def encode_offer_changed(event: OfferChanged) -> KafkaRecord:
    """Key (the offer id), value and headers of an `OfferChanged` on the offers topic."""
    message = offer_changed_message(event)
    headers = cloudevent_headers(
        ce_id=str(event.event_id),
        source=ce_source(event.account),
        ce_type=CE_TYPE_OFFER_CHANGED,
        subject=event.offer_id,
        time=message.occurred_at,
    )
    value = message.model_dump_json().encode("utf-8")
    return KafkaRecord(event.offer_id.encode("utf-8"), value, headers)


class KafkaOfferEncoder(OfferEncoder):
    """`OfferChanged` events (channel OFFERS) and dead letters (channel DEAD_LETTERS) as the
    records that are staged. An event over the maximum message size becomes a dead-letter
    stub instead, as an order event does, so it never holds up the others."""

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self._max_bytes = max_message_bytes

    def encode_offers(
        self, events: Sequence[OfferChanged], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        return [self._event_message(event) for event in events] + [
            _outbound(DEAD_LETTERS, encode_dead_letter(letter, self._max_bytes))
            for letter in dead_letters
        ]

    def _event_message(self, event: OfferChanged) -> OutboundMessage:
        record = encode_offer_changed(event)
        size = record_size(record)
        if size <= self._max_bytes:
            return _outbound(OFFERS, record)
        stub = quarantine_record(record, oversize_error(size, self._max_bytes), self._max_bytes)
        return _outbound(DEAD_LETTERS, stub)


def _outbound(channel: str, record: KafkaRecord) -> OutboundMessage:
    return OutboundMessage(channel, record.key, record.value, tuple(record.headers))
