"""Allegro wire models -> OpenOMS domain objects (the only place that knows both)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from adapters.allegro.wire import (
    AddressWire,
    BuyerWire,
    CheckoutFormWire,
    DeliveryMethodWire,
    DeliveryWire,
    InvoiceWire,
    LineItemWire,
    MoneyWire,
    OrderEventWire,
    PaymentWire,
)
from application.ports.allegro import JournalEvent, UnreadableCheckoutForm
from domain.errors import InvalidValue
from domain.money import Money
from domain.order import (
    Buyer,
    Delivery,
    DeliveryMethod,
    Invoice,
    LineItem,
    OrderSnapshot,
    Payment,
    PickupPoint,
    PostalAddress,
    ShippingAddress,
    TaxId,
)

# Tax-id type for the deprecated single `taxId` string, used only when `ids` is empty.
_LEGACY_TAX_ID_TYPE = "OTHER"


def journal_event(event: OrderEventWire) -> JournalEvent:
    order = event.order
    form = order.checkout_form if order else None
    return JournalEvent(
        id=event.id,
        type=event.type,
        occurred_at=event.occurred_at,
        checkout_form_id=form.id if form else None,
        revision=form.revision if form else None,
        bought_at=_latest_purchase(order.line_items) if order else None,
    )


def _latest_purchase(line_items: Any) -> datetime | None:
    """The latest `lineItems[].boughtAt` of an event, or None when any of them is unreadable:
    the time only says where to look for the form, and a wrong one would hide it."""
    if not isinstance(line_items, list):
        return None
    latest: datetime | None = None
    seen: set[str] = set()  # the items of one cart share one time: parse it once
    for item in line_items:
        raw = item.get("boughtAt") if isinstance(item, dict) else None
        if raw is None or raw in seen:
            continue
        if not isinstance(raw, str):
            return None
        seen.add(raw)
        try:
            moment = _as_utc(datetime.fromisoformat(raw))
        except ValueError:
            return None
        latest = moment if latest is None else max(latest, moment)
    return latest


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_checkout_form(raw: str) -> OrderSnapshot | UnreadableCheckoutForm:
    """A checkout form body as text -> snapshot, or the reason it cannot be read."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return UnreadableCheckoutForm(None, raw, f"body is not JSON: {exc.msg}")
    return _read(data, lambda: raw)


def read_checkout_form_item(item: Any) -> OrderSnapshot | UnreadableCheckoutForm:
    """One element of a list page (already decoded) -> snapshot, or why not. The item's text
    is only rebuilt for an item that fails (it goes to the dead-letter topic)."""
    return _read(item, lambda: json.dumps(item, ensure_ascii=False))


def _read(data: Any, raw: Callable[[], str]) -> OrderSnapshot | UnreadableCheckoutForm:
    form_id = _form_id(data)
    try:
        return order_snapshot(CheckoutFormWire.model_validate(data))
    except ValidationError as exc:
        return UnreadableCheckoutForm(form_id, raw(), validation_reason(exc))
    except InvalidValue as exc:
        return UnreadableCheckoutForm(form_id, raw(), f"invalid value: {exc}")


def validation_reason(exc: ValidationError) -> str:
    """Where and why validation failed, without the offending values (buyer data)."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '<body>'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    more = len(problems) - 5
    return "; ".join(problems[:5]) + (f"; and {more} more" if more > 0 else "")


def _form_id(data: Any) -> str | None:
    if isinstance(data, dict):
        value = data.get("id")
        if isinstance(value, str) and value:
            return value
    return None


def order_snapshot(form: CheckoutFormWire) -> OrderSnapshot:
    """Raises `InvalidValue` when a value breaks a domain invariant (e.g. a bad amount)."""
    return OrderSnapshot(
        id=form.id,
        revision=form.revision,
        status=form.status,
        fulfillment_status=form.fulfillment.status if form.fulfillment else None,
        marketplace=form.marketplace.id if form.marketplace else None,
        buyer=_buyer(form.buyer),
        payment=_payment(form.payment) if form.payment else None,
        delivery=_delivery(form.delivery) if form.delivery else None,
        invoice=_invoice(form.invoice) if form.invoice else None,
        line_items=tuple(_line_item(item) for item in form.line_items),
        total_to_pay=money(form.summary.total_to_pay),
        message_to_seller=form.message_to_seller,
        updated_at=form.updated_at,
    )


def money(wire: MoneyWire) -> Money:
    return Money.parse(wire.amount, wire.currency)


def _optional_money(wire: MoneyWire | None) -> Money | None:
    return money(wire) if wire else None


def _buyer(buyer: BuyerWire) -> Buyer:
    return Buyer(
        id=buyer.id,
        login=buyer.login,
        email=buyer.email,
        guest=bool(buyer.guest),
        first_name=buyer.first_name,
        last_name=buyer.last_name,
        company_name=buyer.company_name,
        phone=buyer.phone_number,
    )


def _payment(payment: PaymentWire) -> Payment:
    return Payment(
        id=payment.id,
        type=payment.type,
        provider=payment.provider,
        finished_at=payment.finished_at,
        paid_amount=_optional_money(payment.paid_amount),
    )


def _delivery(delivery: DeliveryWire) -> Delivery:
    address = delivery.address
    point = delivery.pickup_point
    return Delivery(
        address=ShippingAddress(
            name=_full_name(address.first_name, address.last_name),
            company=address.company_name,
            street=address.street,
            city=address.city,
            postal_code=address.zip_code,
            country_code=address.country_code,
            phone=address.phone_number,
        )
        if address
        else None,
        method=_method(delivery.method),
        pickup_point=PickupPoint(
            id=point.id,
            name=point.name,
            description=point.description,
            address=_postal(point.address),
        )
        if point
        else None,
        cost=_optional_money(delivery.cost),
    )


def _method(method: DeliveryMethodWire | None) -> DeliveryMethod | None:
    return DeliveryMethod(method.id, method.name) if method else None


def _invoice(invoice: InvoiceWire) -> Invoice:
    address = invoice.address
    company = address.company if address else None
    person = address.natural_person if address else None
    tax_ids = tuple(TaxId(item.type, item.value) for item in (company.ids or ())) if company else ()
    if company and not tax_ids and company.tax_id:
        tax_ids = (TaxId(_LEGACY_TAX_ID_TYPE, company.tax_id),)
    return Invoice(
        required=bool(invoice.required),
        company_name=company.name if company else None,
        tax_ids=tax_ids,
        vat_payer_status=company.vat_payer_status if company else None,
        natural_person_first_name=person.first_name if person else None,
        natural_person_last_name=person.last_name if person else None,
        address=_postal(address),
    )


def _line_item(item: LineItemWire) -> LineItem:
    return LineItem(
        id=item.id,
        offer_id=item.offer.id,
        offer_name=item.offer.name,
        sku=item.offer.external.id if item.offer.external else None,
        quantity=item.quantity,
        unit_price=money(item.price),
        original_unit_price=_optional_money(item.original_price),
        bought_at=item.bought_at,
    )


def _postal(address: AddressWire | None) -> PostalAddress | None:
    if address is None:
        return None
    return PostalAddress(
        street=address.street,
        city=address.city,
        postal_code=address.zip_code,
        country_code=address.country_code,
    )


def _full_name(first: str | None, last: str | None) -> str | None:
    return " ".join(part for part in (first, last) if part) or None
