"""The Kafka wire contract (README.md, Messages): message models and pure encoders.

The models are the single source of the JSON Schemas in `contracts/` (see `contracts.py`).
Encoding is deterministic: the same event always gives byte-identical key, value and headers,
so a replay after a crash re-sends exactly what was sent before. Money travels as decimal
strings (never floats) and times as RFC 3339 UTC with a `Z`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from application.ports.publisher import DeadLetter
from domain import order as domain_order
from domain.events import (
    EVENT_NAMESPACE,
    DomainEvent,
    OrderImported,
    OrderStatusChanged,
    OrderUpdated,
)
from domain.statuses import OrderStatus, PaymentStatus

CE_SPECVERSION = "1.0"
CE_TYPE_ORDER_IMPORTED = "openoms.order.imported.v1"
CE_TYPE_ORDER_STATUS_CHANGED = "openoms.order.status_changed.v1"
CE_TYPE_ORDER_UPDATED = "openoms.order.updated.v1"
CE_TYPE_ORDER_DEAD_LETTERED = "openoms.order.dead_lettered.v1"
CONTENT_TYPE = "application/json"
DEAD_LETTER_EVENT_TYPE = "OrderDeadLettered"

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
UTC_TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"

DecimalString = Annotated[
    str,
    Field(
        pattern=DECIMAL_PATTERN,
        description="Exact decimal amount as a string (never a float), e.g. `70` or `129.99`.",
    ),
]
UtcTimestamp = Annotated[
    str,
    Field(
        pattern=UTC_TIMESTAMP_PATTERN,
        json_schema_extra={"format": "date-time"},
        description="RFC 3339 time in UTC with a `Z` suffix.",
    ),
]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")]


EventType = Literal["OrderImported", "OrderStatusChanged", "OrderUpdated"]


class KafkaRecord(NamedTuple):
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Buyer(_Message):
    login: str
    first_name: str | None
    last_name: str | None
    company_name: str | None
    guest: bool
    """True for a buyer who checked out without an Allegro account."""


class ShippingAddress(_Message):
    """Allegro's `delivery.address`, flattened."""

    name: str | None
    company: str | None
    street: str | None
    city: str | None
    postal_code: str | None
    country_code: str | None
    phone: str | None


class PostalAddress(_Message):
    street: str | None
    city: str | None
    postal_code: str | None
    country_code: str | None


class LineItemTax(_Message):
    rate: str | None
    """The rate as Allegro sends it, a decimal string (e.g. `23.00`)."""
    subject: str | None
    """E.g. `GOODS`; Allegro may add values."""
    exemption: str | None


class LineItem(_Message):
    external_line_id: str
    """Allegro's line item id."""
    external_offer_id: str
    sku: str | None
    """The seller's own offer signature (`offer.external.id`)."""
    name: str | None
    quantity: int = Field(ge=0)
    unit_price: DecimalString
    original_unit_price: DecimalString | None
    """Price before a discount, when Allegro reports one."""
    tax: LineItemTax | None = None
    """The line's tax as Allegro reports it, for invoicing; null when it reports none."""


class TaxId(_Message):
    type: str
    value: str


class NaturalPerson(_Message):
    first_name: str | None
    last_name: str | None


class Invoice(_Message):
    company_name: str | None
    tax_ids: list[TaxId]
    vat_payer_status: str | None
    natural_person: NaturalPerson | None
    address: PostalAddress | None


class DeliveryMethod(_Message):
    id: str | None
    name: str | None


class PickupPoint(_Message):
    id: str | None
    name: str | None
    description: str | None
    address: PostalAddress | None


class Surcharge(_Message):
    """A buyer's top-up: a payment of its own (Allegro's `surcharges[]`)."""

    id: str | None
    """The surcharge's payment id."""
    type: str | None
    provider: str | None
    paid_at: UtcTimestamp | None
    amount: DecimalString | None
    currency: CurrencyCode | None


class _FullOrderMessage(_Message):
    """The fields of a message that carries the whole order (`OrderImported`, `OrderUpdated`)."""

    event_id: uuid.UUID
    """Deterministic (UUIDv5): the same order revision always gives the same id."""
    event_type: str
    occurred_at: UtcTimestamp
    source: Literal["allegro"]
    account: str
    """Label of the Allegro seller account."""
    marketplace: str | None
    external_id: str
    """Allegro checkout form id (also the record key)."""
    revision: str | None
    """Allegro checkout form revision the event was derived from."""
    customer_name: str
    """The buyer's Allegro login."""
    customer_email: str
    customer_phone: str | None
    buyer: Buyer
    shipping_address: ShippingAddress | None
    total_amount: DecimalString
    """Paid amount, else the total to pay (e.g. cash on delivery)."""
    currency: CurrencyCode
    line_items: list[LineItem]
    order_status: OrderStatus
    payment_status: PaymentStatus
    fulfillment_status: str | None
    """Allegro's fulfillment status as sent (e.g. `PROCESSING`)."""
    invoice_requested: bool
    invoice: Invoice | None
    """Invoice details; null when no invoice was requested."""
    payment_method: str | None
    paid_at: UtcTimestamp | None
    ordered_at: UtcTimestamp | None
    """Latest purchase time among the line items."""
    delivery_method: DeliveryMethod | None
    pickup_point: PickupPoint | None
    delivery_cost: DecimalString | None
    notes: str | None
    """The buyer's message to the seller."""
    # Added within v1: optional, so that records published before them stay valid
    # (contracts/COMPATIBILITY.md). The producer always sends them.
    fulfillment_provider: str | None = None
    """`SELLER`, or `ALLEGRO` (One Fulfillment: Allegro ships it, a consumer must not)."""
    dispatch_by: UtcTimestamp | None = None
    """The ship-by deadline: the end of Allegro's dispatch window (`delivery.time.dispatch`)."""
    total_to_pay: DecimalString | None = None
    """What the buyer pays in all (`summary.totalToPay`), surcharges included."""
    surcharges: list[Surcharge] = Field(default_factory=list)
    """The buyer's top-ups, each paid on its own."""
    payment_id: str | None = None
    """Allegro's payment id (a refund names it)."""
    payment_provider: str | None = None
    """E.g. `P24`, `PAYU`, `EPT` (extended payment terms)."""
    buyer_id: str | None = None
    """Allegro's buyer id: the stable customer key (`customer_email` is a relay address)."""
    line_items_sent: str | None = None
    """How many line items have a tracking number: `NONE`, `SOME` or `ALL`."""


class OrderImportedMessage(_FullOrderMessage):
    """An Allegro order reached the import trigger: published once per order."""

    event_type: Literal["OrderImported"]


class OrderUpdatedMessage(_FullOrderMessage):
    """An imported order whose content (anything published besides the status triple) changed:
    the buyer changed the address, the pickup point, the invoice data or the phone; a surcharge
    was paid; an extended-term payment arrived; tracking numbers were added. The whole current
    order, as in `OrderImported`; when the status changed too, it follows that
    `OrderStatusChanged`."""

    event_type: Literal["OrderUpdated"]
    changed: list[str]
    """The top-level fields whose value differs from the order as last published, sorted."""


class OrderStatusChangedMessage(_Message):
    """The derived (order, payment, fulfillment) status triple changed after import."""

    event_id: uuid.UUID
    """Deterministic (UUIDv5) over the order revision and the new status triple."""
    event_type: Literal["OrderStatusChanged"]
    occurred_at: UtcTimestamp
    account: str
    marketplace: str | None
    external_id: str
    """Allegro checkout form id (also the record key)."""
    revision: str | None
    previous_status: OrderStatus
    order_status: OrderStatus
    payment_status: PaymentStatus
    fulfillment_status: str | None
    previous_fulfillment_status: str | None
    reason: str
    """The Allegro event type that revealed the change, or `RECONCILIATION`."""


class DeadLetterMessage(_Message):
    """A form quarantined after repeated mapping failures, or an event too large to publish."""

    account: str
    checkout_form_id: str
    allegro_event_id: str | None
    raw_payload: str
    """The checkout form as Allegro sent it, or the event too large to publish; its head if cut."""
    raw_payload_bytes: int = Field(ge=0)
    """Size of the whole payload (UTF-8), even when `raw_payload` holds only its head."""
    raw_payload_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 (hex) of the whole payload (UTF-8): it names the payload when cut."""
    truncated: bool
    """Cut to the maximum message size: `raw_payload` is a head; ids and `error` may be clipped."""
    error: str
    attempts: int = Field(ge=1)
    failed_at: UtcTimestamp
    """When it failed; for an event too large to publish, when it occurred (replays match)."""
    event_id: uuid.UUID | None
    """The event too large to publish, quarantined instead; null for an unmappable form."""
    event_type: EventType | None
    """The type of that event; null for an unmappable form."""


def decimal_string(value: Decimal) -> str:
    """Fixed-point text of an exact decimal: `70` stays `70`, `70.00` stays `70.00`."""
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return format(value, "f")


def utc_timestamp(value: datetime) -> str:
    if value.utcoffset() is None:
        raise ValueError(f"refusing to encode a naive datetime: {value.isoformat()}")
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def _optional_decimal(value: Decimal | None) -> str | None:
    return None if value is None else decimal_string(value)


def _optional_timestamp(value: datetime | None) -> str | None:
    return None if value is None else utc_timestamp(value)


# The builders below make plain dicts and each message is validated once, as a whole: one
# pass through pydantic-core instead of one per nested model (30 -> 19 us an OrderImported).


def _buyer(buyer: domain_order.Buyer) -> dict[str, object]:
    return {
        "login": buyer.login,
        "first_name": buyer.first_name,
        "last_name": buyer.last_name,
        "company_name": buyer.company_name,
        "guest": buyer.guest,
    }


def _shipping_address(address: domain_order.ShippingAddress | None) -> dict[str, object] | None:
    if address is None:
        return None
    return {
        "name": address.name,
        "company": address.company,
        **_postal_fields(address),
        "phone": address.phone,
    }


def _postal_address(address: domain_order.PostalAddress | None) -> dict[str, object] | None:
    return None if address is None else _postal_fields(address)


def _postal_fields(
    address: domain_order.PostalAddress | domain_order.ShippingAddress,
) -> dict[str, object]:
    """The four postal parts a shipping address shares with a postal one."""
    return {
        "street": address.street,
        "city": address.city,
        "postal_code": address.postal_code,
        "country_code": address.country_code,
    }


def _line_item(item: domain_order.LineItem) -> dict[str, object]:
    original = item.original_unit_price
    return {
        "external_line_id": item.id,
        "external_offer_id": item.offer_id,
        "sku": item.sku,
        "name": item.offer_name,
        "quantity": item.quantity,
        "unit_price": decimal_string(item.unit_price.amount),
        "original_unit_price": None if original is None else decimal_string(original.amount),
        "tax": _tax(item.tax),
    }


def _tax(tax: domain_order.LineItemTax | None) -> dict[str, object] | None:
    if tax is None:
        return None
    return {"rate": tax.rate, "subject": tax.subject, "exemption": tax.exemption}


def _surcharge(payment: domain_order.Payment) -> dict[str, object]:
    paid = payment.paid_amount
    return {
        "id": payment.id,
        "type": payment.type,
        "provider": payment.provider,
        "paid_at": _optional_timestamp(payment.finished_at),
        "amount": None if paid is None else decimal_string(paid.amount),
        "currency": None if paid is None else paid.currency,
    }


def _invoice(invoice: domain_order.Invoice | None) -> dict[str, object] | None:
    if invoice is None:
        return None
    first, last = invoice.natural_person_first_name, invoice.natural_person_last_name
    person = None
    if first is not None or last is not None:
        person = {"first_name": first, "last_name": last}
    return {
        "company_name": invoice.company_name,
        "tax_ids": [{"type": tax_id.type, "value": tax_id.value} for tax_id in invoice.tax_ids],
        "vat_payer_status": invoice.vat_payer_status,
        "natural_person": person,
        "address": _postal_address(invoice.address),
    }


def _delivery_method(method: domain_order.DeliveryMethod | None) -> dict[str, object] | None:
    return None if method is None else {"id": method.id, "name": method.name}


def _pickup_point(point: domain_order.PickupPoint | None) -> dict[str, object] | None:
    if point is None:
        return None
    return {
        "id": point.id,
        "name": point.name,
        "description": point.description,
        "address": _postal_address(point.address),
    }


def order_imported_message(event: OrderImported) -> OrderImportedMessage:
    return OrderImportedMessage.model_validate(_full_order(event))


def order_updated_message(event: OrderUpdated) -> OrderUpdatedMessage:
    return OrderUpdatedMessage.model_validate(
        {**_full_order(event), "changed": list(event.changed)}
    )


def _full_order(event: OrderImported | OrderUpdated) -> dict[str, object]:
    """The fields of `_FullOrderMessage`, in its order, with the event's own `event_type`."""
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "occurred_at": utc_timestamp(event.occurred_at),
        "source": "allegro",
        "account": event.account,
        "marketplace": event.marketplace,
        "external_id": event.external_id,
        "revision": event.revision,
        "customer_name": event.customer_name,
        "customer_email": event.customer_email,
        "customer_phone": event.customer_phone,
        "buyer": _buyer(event.buyer),
        "shipping_address": _shipping_address(event.shipping_address),
        "total_amount": decimal_string(event.total_amount),
        "currency": event.currency,
        "line_items": [_line_item(item) for item in event.line_items],
        "order_status": event.order_status,
        "payment_status": event.payment_status,
        "fulfillment_status": event.fulfillment_status,
        "invoice_requested": event.invoice_requested,
        "invoice": _invoice(event.invoice),
        "payment_method": event.payment_method,
        "paid_at": _optional_timestamp(event.paid_at),
        "ordered_at": _optional_timestamp(event.ordered_at),
        "delivery_method": _delivery_method(event.delivery_method),
        "pickup_point": _pickup_point(event.pickup_point),
        "delivery_cost": _optional_decimal(event.delivery_cost),
        "notes": event.notes,
        "fulfillment_provider": event.fulfillment_provider,
        "dispatch_by": _optional_timestamp(event.dispatch_by),
        "total_to_pay": _optional_decimal(event.total_to_pay),
        "surcharges": [_surcharge(payment) for payment in event.surcharges],
        "payment_id": event.payment_id,
        "payment_provider": event.payment_provider,
        "buyer_id": event.buyer_id,
        "line_items_sent": event.line_items_sent,
    }


def order_status_changed_message(event: OrderStatusChanged) -> OrderStatusChangedMessage:
    return OrderStatusChangedMessage(
        event_id=event.event_id,
        event_type="OrderStatusChanged",
        occurred_at=utc_timestamp(event.occurred_at),
        account=event.account,
        marketplace=event.marketplace,
        external_id=event.external_id,
        revision=event.revision,
        previous_status=event.previous_status,
        order_status=event.order_status,
        payment_status=event.payment_status,
        fulfillment_status=event.fulfillment_status,
        previous_fulfillment_status=event.previous_fulfillment_status,
        reason=event.reason,
    )


def _quarantine_id(
    account: str, checkout_form_id: str, allegro_event_id: str | None, payload_sha256: str
) -> uuid.UUID:
    """Deterministic id of a dead letter, so a re-sent quarantine can be deduplicated: the
    same input (account, form, Allegro event, payload) gives the same id whatever the
    attempt count, the time it failed at, or whether it was cut to fit."""
    name = "|".join(
        (account, checkout_form_id, allegro_event_id or "", DEAD_LETTER_EVENT_TYPE, payload_sha256)
    )
    return uuid.uuid5(EVENT_NAMESPACE, name)


def cloudevent_headers(
    *, ce_id: str, source: str, ce_type: str, subject: str, time: str
) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 Kafka binary-mode headers, always in the same order."""
    pairs = (
        ("ce_specversion", CE_SPECVERSION),
        ("ce_id", ce_id),
        ("ce_source", source),
        ("ce_type", ce_type),
        ("ce_subject", subject),
        ("ce_time", time),
        ("content-type", CONTENT_TYPE),
    )
    return [(name, value.encode("utf-8")) for name, value in pairs]


def ce_source(account: str) -> str:
    return f"allegro/{account}"


def _record(message: _Message, *, key: str, headers: list[tuple[str, bytes]]) -> KafkaRecord:
    return KafkaRecord(key.encode("utf-8"), message.model_dump_json().encode("utf-8"), headers)


def encode_event(event: DomainEvent) -> KafkaRecord:
    """Key, value and headers of a domain event on the orders topic."""
    message: OrderImportedMessage | OrderUpdatedMessage | OrderStatusChangedMessage
    if isinstance(event, OrderImported):
        message, ce_type = order_imported_message(event), CE_TYPE_ORDER_IMPORTED
    elif isinstance(event, OrderUpdated):
        message, ce_type = order_updated_message(event), CE_TYPE_ORDER_UPDATED
    else:
        message, ce_type = order_status_changed_message(event), CE_TYPE_ORDER_STATUS_CHANGED
    headers = cloudevent_headers(
        ce_id=str(event.event_id),
        source=ce_source(event.account),
        ce_type=ce_type,
        subject=event.external_id,
        time=message.occurred_at,
    )
    return _record(message, key=event.external_id, headers=headers)


def encode_dead_letter(letter: DeadLetter, max_bytes: int | None = None) -> KafkaRecord:
    """Key, value and headers of a dead letter on the dead-letter topic; when `max_bytes` is
    given, truncated to fit it (see `record_size`; at least `MIN_MAX_MESSAGE_BYTES`)."""
    payload = letter.raw_payload.encode()
    payload_sha256 = hashlib.sha256(payload).hexdigest()  # hashed once: it is also the id's
    ce_id = _quarantine_id(
        letter.account, letter.checkout_form_id, letter.allegro_event_id, payload_sha256
    )
    quarantine = _Quarantine(
        account=letter.account,
        checkout_form_id=letter.checkout_form_id,
        allegro_event_id=letter.allegro_event_id,
        payload=letter.raw_payload,
        payload_bytes=len(payload),
        payload_sha256=payload_sha256,
        error=letter.error,
        attempts=letter.attempts,
        failed_at=utc_timestamp(letter.failed_at),
        ce_id=str(ce_id),
    )
    return _bounded(quarantine, max_bytes)


# --- Size limit -----------------------------------------------------------------------------

DEFAULT_MAX_MESSAGE_BYTES = 1_048_576
"""Kafka's own default: the clients' `max.request.size` (the broker's `message.max.bytes` is
12 bytes more)."""
MIN_MAX_MESSAGE_BYTES = 16_384
"""The lowest limit accepted: a dead-letter stub always fits in it (identifiers and error
clipped to `_MAX_ID_CHARS` / `_MAX_ERROR_CHARS`, even if every character needs a 6-byte JSON
escape, and no payload at all: about 12 KB at worst)."""
# Kafka counts a whole record batch (magic v2): a 61-byte header, then per record at most 21
# bytes of its own fields, a varint length (at most 5 bytes) for the key, the value and the
# header count, and two per header. aiokafka's own upper bound (`estimate_size_in_bytes`) is
# the same sum with the varints counted exactly, so it is never above `record_size`.
_RECORD_FRAMING_BYTES = 61 + 21 + 3 * 5
_HEADER_FRAMING_BYTES = 2 * 5
_MAX_ID_CHARS = 256
_MAX_ERROR_CHARS = 512
_EVENT_TYPES: dict[str, EventType] = {
    CE_TYPE_ORDER_IMPORTED: "OrderImported",
    CE_TYPE_ORDER_STATUS_CHANGED: "OrderStatusChanged",
    CE_TYPE_ORDER_UPDATED: "OrderUpdated",
}
_EPOCH = "1970-01-01T00:00:00Z"


def record_size(record: KafkaRecord) -> int:
    """What a record weighs against the maximum message size: key, value, header names and
    values, plus the framing of a batch holding only this record. Measured before
    compression, so the limit holds whatever the codec (compression only makes it smaller),
    and a record that passes is never refused by a broker with the same limit."""
    headers = sum(
        len(name.encode()) + len(value) + _HEADER_FRAMING_BYTES for name, value in record.headers
    )
    return _RECORD_FRAMING_BYTES + len(record.key) + len(record.value) + headers


def oversize_error(size: int, max_bytes: int) -> str:
    """The error of a record of `size` bytes (its `record_size`) over `max_bytes`."""
    return (
        f"record of {size} bytes is over the maximum message size (max_message_bytes={max_bytes})"
    )


def quarantine_record(record: KafkaRecord, error: str, max_bytes: int) -> KafkaRecord:
    """The dead-letter stub standing in for an encoded record that cannot be published whole
    (an event or a dead letter): what it is from its CloudEvents headers, the head of its
    value with the value's size and SHA-256, within `max_bytes` (at least
    `MIN_MAX_MESSAGE_BYTES`). Deterministic: the same record gives the same bytes."""
    headers = {name: value.decode("utf-8", errors="replace") for name, value in record.headers}
    event_type = _EVENT_TYPES.get(headers.get("ce_type", ""))
    account = headers.get("ce_source", "").removeprefix(ce_source(""))
    checkout_form_id = record.key.decode("utf-8", errors="replace")
    payload_sha256 = hashlib.sha256(record.value).hexdigest()
    quarantine = _Quarantine(
        account=account,
        checkout_form_id=checkout_form_id,
        allegro_event_id=None,
        payload=record.value.decode("utf-8", errors="replace"),
        payload_bytes=len(record.value),
        payload_sha256=payload_sha256,
        error=error,
        attempts=1,
        failed_at=_timestamp_or_epoch(headers.get("ce_time", "")),
        ce_id=str(_quarantine_id(account, checkout_form_id, None, payload_sha256)),
        event_id=_uuid_or_none(headers.get("ce_id", "")) if event_type else None,
        event_type=event_type,
    )
    return _bounded(quarantine, max_bytes)


class _Quarantine(NamedTuple):
    account: str
    checkout_form_id: str
    allegro_event_id: str | None
    payload: str
    payload_bytes: int
    payload_sha256: str
    error: str
    attempts: int
    failed_at: str
    ce_id: str
    event_id: uuid.UUID | None = None
    event_type: EventType | None = None


def _bounded(quarantine: _Quarantine, max_bytes: int | None) -> KafkaRecord:
    """The whole dead letter when it fits `max_bytes` (or there is no limit); else a
    truncated one: clipped identifiers and error, and the longest head of the payload that
    fits (a binary search over its length, as JSON escaping makes the size of a head hard to
    tell in advance)."""
    whole = _dead_letter_record(quarantine, quarantine.payload, truncated=False)
    if max_bytes is None or record_size(whole) <= max_bytes:
        return whole
    clipped = quarantine._replace(
        account=quarantine.account[:_MAX_ID_CHARS],
        checkout_form_id=quarantine.checkout_form_id[:_MAX_ID_CHARS],
        allegro_event_id=(quarantine.allegro_event_id or "")[:_MAX_ID_CHARS] or None,
        error=quarantine.error[:_MAX_ERROR_CHARS],
    )
    fits, longest = 0, min(len(quarantine.payload), max_bytes)
    while fits < longest:
        middle = (fits + longest + 1) // 2
        head = _dead_letter_record(clipped, quarantine.payload[:middle], truncated=True)
        if record_size(head) <= max_bytes:
            fits = middle
        else:
            longest = middle - 1
    return _dead_letter_record(clipped, quarantine.payload[:fits], truncated=True)


def _dead_letter_record(quarantine: _Quarantine, head: str, *, truncated: bool) -> KafkaRecord:
    message = DeadLetterMessage(
        account=quarantine.account,
        checkout_form_id=quarantine.checkout_form_id,
        allegro_event_id=quarantine.allegro_event_id,
        raw_payload=head,
        raw_payload_bytes=quarantine.payload_bytes,
        raw_payload_sha256=quarantine.payload_sha256,
        truncated=truncated,
        error=quarantine.error,
        attempts=quarantine.attempts,
        failed_at=quarantine.failed_at,
        event_id=quarantine.event_id,
        event_type=quarantine.event_type,
    )
    headers = cloudevent_headers(
        ce_id=quarantine.ce_id,
        source=ce_source(quarantine.account),
        ce_type=CE_TYPE_ORDER_DEAD_LETTERED,
        subject=quarantine.checkout_form_id,
        time=quarantine.failed_at,
    )
    return _record(message, key=quarantine.checkout_form_id, headers=headers)


def _timestamp_or_epoch(text: str) -> str:
    """A `ce_time` header as the dead letter's `failed_at`; the epoch if it is not one of
    ours (the stub must still be made: a record is never dropped)."""
    return text if re.fullmatch(UTC_TIMESTAMP_PATTERN, text) else _EPOCH


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
