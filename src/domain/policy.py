"""What follows from reading one checkout form: which events, and what to remember.

Decisions depend only on the snapshot, the remembered record and the trigger setting, so
out-of-order, duplicate and repeated journal events change nothing the form does not show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain import fingerprint
from domain.events import (
    DomainEvent,
    OrderImported,
    OrderStatusChanged,
    OrderUpdated,
    event_id,
)
from domain.mapping import StatusMapping, StatusTriple
from domain.order import OrderSnapshot
from domain.statuses import AllegroStatus


class ImportTrigger(StrEnum):
    READY_FOR_PROCESSING = "READY_FOR_PROCESSING"
    BOUGHT = "BOUGHT"


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """What the service remembers of an order it has published."""

    checkout_form_id: str
    revision: str | None
    published: StatusTriple
    # The published content's fingerprint (domain.fingerprint): digests, not the buyer's
    # data. None for an order recorded before fingerprints were kept.
    content: str | None = None


@dataclass(frozen=True, slots=True)
class Revelation:
    """Why the form was read: the journal event (or sweep) that pointed at it."""

    reason: str
    occurred_at: datetime
    saw_trigger_event: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    events: tuple[DomainEvent, ...]
    record: OrderRecord | None  # None: nothing new to remember


@dataclass(frozen=True, slots=True)
class ImportPolicy:
    account: str
    trigger: ImportTrigger = ImportTrigger.READY_FOR_PROCESSING
    mapping: StatusMapping = field(default_factory=StatusMapping)

    def decide(
        self, order: OrderSnapshot, record: OrderRecord | None, revelation: Revelation
    ) -> Decision:
        """Raises `UnmappableOrder` when the form holds values the mapping does not know."""
        previous_payment = record.published.payment_status if record else None
        triple = self.mapping.derive(order, previous_payment)
        if record is None and not self.reached_trigger(order, revelation):
            return Decision((), None)  # before any digest: most reads of unpaid orders end here
        content = _full_order(order, triple, self.account)  # built once: events take it as is
        digest = content_fingerprint(content)
        if record is None:
            imported = build_order_imported(order, self.account, revelation, content)
            return Decision((imported,), OrderRecord(order.id, order.revision, triple, digest))
        events: list[DomainEvent] = []
        if triple != record.published:
            events.append(self._status_changed(order, record, triple, revelation))
        changed = fingerprint.changed(record.content, digest)
        if changed:
            events.append(
                build_order_updated(order, self.account, revelation, content, digest, changed)
            )
        if not events and digest == record.content:
            return Decision((), None)
        # An order recorded without a comparable fingerprint gets one, silently: an upgrade
        # must not report every order as updated (see domain.fingerprint).
        return Decision(tuple(events), OrderRecord(order.id, order.revision, triple, digest))

    def _status_changed(
        self,
        order: OrderSnapshot,
        record: OrderRecord,
        triple: StatusTriple,
        revelation: Revelation,
    ) -> OrderStatusChanged:
        return OrderStatusChanged(
            event_id=event_id(
                self.account,
                order.id,
                order.revision,
                OrderStatusChanged.event_type,
                triple.order_status,
                triple.payment_status,
                triple.fulfillment_status or "",
            ),
            occurred_at=revelation.occurred_at,
            account=self.account,
            marketplace=order.marketplace,
            external_id=order.id,
            revision=order.revision,
            previous_status=record.published.order_status,
            order_status=triple.order_status,
            payment_status=triple.payment_status,
            fulfillment_status=triple.fulfillment_status,
            previous_fulfillment_status=record.published.fulfillment_status,
            reason=revelation.reason,
        )

    def reached_trigger(self, order: OrderSnapshot, revelation: Revelation) -> bool:
        """Has the order (ever) reached the import trigger, judging by what we can see?

        A paid order cancelled before we first saw it still reached the trigger: its
        payment shows it (or the journal showed its READY_FOR_PROCESSING event).
        An unpaid order cancelled before payment never did.
        """
        status = order.status
        if self.trigger is ImportTrigger.BOUGHT:
            return status in AllegroStatus.ALL
        if status == AllegroStatus.READY_FOR_PROCESSING:
            return True
        if status == AllegroStatus.CANCELLED:
            return order.is_paid or revelation.saw_trigger_event
        return False


# What an order message says besides its content: not part of the fingerprint, so that only
# a change of content makes an `OrderUpdated` (the status triple has `OrderStatusChanged`).
_NOT_CONTENT = frozenset(
    {
        "account",
        "marketplace",
        "external_id",
        "revision",
        "order_status",
        "payment_status",
        "fulfillment_status",
    }
)


def content_fingerprint(order: Mapping[str, Any]) -> str:
    """The fingerprint of what an order message publishes besides its status (`order`: its
    fields by name; see domain.fingerprint)."""
    return fingerprint.fingerprint(
        {name: value for name, value in order.items() if name not in _NOT_CONTENT}
    )


def build_order_imported(
    order: OrderSnapshot, account: str, revelation: Revelation, content: dict[str, Any]
) -> OrderImported:
    """`content`: the order as `_full_order` gives it (the decision built it once)."""
    return OrderImported(
        event_id=event_id(account, order.id, order.revision, OrderImported.event_type),
        occurred_at=_import_time(order, revelation),
        **content,
    )


def build_order_updated(
    order: OrderSnapshot,
    account: str,
    revelation: Revelation,
    content: dict[str, Any],
    digest: str,
    changed: tuple[str, ...],
) -> OrderUpdated:
    """`event_id` over the revision and the content fingerprint (`digest`, of `content`);
    `occurred_at` from the form (its `updatedAt`: buyer-side changes move it), so the journal
    path, a sweep and a replay publish the same bytes. No `reason`: which path revealed it
    must not change the bytes."""
    return OrderUpdated(
        event_id=event_id(account, order.id, order.revision, OrderUpdated.event_type, digest),
        occurred_at=order.updated_at or _import_time(order, revelation),
        changed=changed,
        **content,
    )


def _full_order(order: OrderSnapshot, triple: StatusTriple, account: str) -> dict[str, Any]:
    charged = order.charged
    payment = order.payment
    invoice = order.invoice
    delivery = order.delivery
    dispatch = delivery.dispatch if delivery else None
    return {
        "account": account,
        "marketplace": order.marketplace,
        "external_id": order.id,
        "revision": order.revision,
        "customer_name": order.buyer.login,
        "customer_email": order.buyer.email,
        "customer_phone": order.buyer.phone,
        "buyer": order.buyer,
        "shipping_address": delivery.address if delivery else None,
        "total_amount": charged.amount,
        "currency": charged.currency,
        "line_items": order.line_items,
        "order_status": triple.order_status,
        "payment_status": triple.payment_status,
        "fulfillment_status": triple.fulfillment_status,
        "invoice_requested": bool(invoice and invoice.required),
        "invoice": invoice if invoice and invoice.required else None,
        "payment_method": payment.type if payment else None,
        "paid_at": payment.finished_at if payment and order.is_paid else None,
        "ordered_at": order.ordered_at,
        "delivery_method": delivery.method if delivery else None,
        "pickup_point": delivery.pickup_point if delivery else None,
        "delivery_cost": delivery.cost.amount if delivery and delivery.cost else None,
        "notes": order.message_to_seller,
        "fulfillment_provider": order.fulfillment_provider,
        "dispatch_by": dispatch.end if dispatch else None,
        "total_to_pay": order.total_to_pay.amount,
        "surcharges": order.surcharges,
        "payment_id": payment.id if payment else None,
        "payment_provider": payment.provider if payment else None,
        "buyer_id": order.buyer.id,
        "line_items_sent": order.line_items_sent,
    }


def _import_time(order: OrderSnapshot, revelation: Revelation) -> datetime:
    """A time taken from the form itself, so that a replay yields the same value."""
    if order.payment is not None and order.payment.finished_at is not None:
        return order.payment.finished_at
    return order.ordered_at or order.updated_at or revelation.occurred_at
