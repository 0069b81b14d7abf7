"""Allegro wire models -> OpenOMS domain objects (the only place that knows both)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from adapters.allegro import identifiers
from adapters.allegro.identifiers import MalformedIdentifier
from adapters.allegro.json_text import loads
from adapters.allegro.wire import (
    CHECKOUT_FORM,
    AddressWire,
    BuyerWire,
    CheckoutFormsWire,
    CheckoutFormWire,
    DeliveryMethodWire,
    DeliveryWire,
    FulfillmentWire,
    InvoiceWire,
    LineItemTaxWire,
    LineItemWire,
    ListedForm,
    MoneyWire,
    OrderEventWire,
    PaymentWire,
)
from application.ports.allegro import JournalEvent, UnreadableCheckoutForm
from application.ports.errors import AllegroError
from domain.errors import InvalidValue
from domain.money import Money
from domain.order import (
    Buyer,
    Delivery,
    DeliveryMethod,
    Invoice,
    LineItem,
    LineItemTax,
    OrderSnapshot,
    Payment,
    PickupPoint,
    PostalAddress,
    ShippingAddress,
    TaxId,
    TimeWindow,
)

logger = logging.getLogger(__name__)

# Tax-id type for the deprecated single `taxId` string, used only when `ids` is empty.
_LEGACY_TAX_ID_TYPE = "OTHER"

# Last resort: what else a hostile body can make the translation raise. A form that does is
# unreadable (the poison path), never an error that escapes the poll and stops the account.
_UNEXPECTED = (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError)


def journal_event(event: OrderEventWire) -> JournalEvent:
    """One journal entry. Its id must be one (it is the cursor: `MalformedIdentifier` fails
    the page); an entry whose type, order id or revision is not of Allegro's shape comes out
    `malformed`, with no order to read, so that it can be quarantined and passed."""
    event_id = identifiers.event_id(event["id"])
    order = event.get("order")
    form = order.get("checkoutForm") if order else None
    try:
        event_type = identifiers.enum_value(event["type"], "event type")
        form_id = identifiers.checkout_form_id(form["id"]) if form else None
        revision = identifiers.revision(form.get("revision")) if form else None
    except MalformedIdentifier as exc:
        return JournalEvent(
            id=event_id,
            type=identifiers.describe(event["type"]),
            occurred_at=event["occurredAt"],
            checkout_form_id=None,
            revision=None,
            malformed=str(exc),
            raw=_dumps(event),
        )
    return JournalEvent(
        id=event_id,
        type=event_type,
        occurred_at=event["occurredAt"],
        checkout_form_id=form_id,
        revision=revision,
        bought_at=_latest_purchase(order.get("lineItems")) if order else None,
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


def read_checkout_form(raw: str | bytes) -> OrderSnapshot | UnreadableCheckoutForm:
    """A checkout form body -> snapshot, or the reason it cannot be read. The body is
    validated straight from its bytes; only a body that fails is decoded again to say why."""
    try:
        form = CHECKOUT_FORM.validate_json(raw)
    except (*_UNEXPECTED, ValidationError):
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        try:
            data = loads(text)
        except ValueError as exc:
            return UnreadableCheckoutForm(None, text, f"body is not JSON: {exc}")
        return _read(data, lambda: text)
    return _snapshot(form, lambda: raw.decode(errors="replace") if isinstance(raw, bytes) else raw)


def read_checkout_form_item(item: Any) -> OrderSnapshot | UnreadableCheckoutForm:
    """One element of a list page, as decoded -> snapshot, or why not. The item's text is
    only rebuilt for an item that fails (it goes to the dead-letter topic)."""
    return _read(item, lambda: _dumps(item))


def _dumps(item: Any) -> str:
    """An item's text for its dead letter; an item no encoder takes is described instead."""
    try:
        return json.dumps(item, ensure_ascii=False, default=str)
    except _UNEXPECTED:
        return f"<unencodable {type(item).__name__}>"


def read_checkout_form_items(
    page: CheckoutFormsWire,
    decoded: Callable[[], list[Any]],
    only_ids: Collection[str] | None = None,
) -> list[OrderSnapshot | UnreadableCheckoutForm]:
    """The items of a validated list page (with `only_ids`, only those forms and any item
    without a readable id). An item that is not a checkout form came through as it was
    sent; one that validated but breaks a domain rule is taken again from `decoded()` (the
    page's items decoded as sent), so its raw text is Allegro's own."""
    results: list[OrderSnapshot | UnreadableCheckoutForm] = []
    for index, item in enumerate(page["checkoutForms"]):
        if only_ids is not None:
            form_id = item.form["id"] if isinstance(item, ListedForm) else _form_id(item)
            if form_id is not None and form_id not in only_ids:
                continue
        if isinstance(item, ListedForm):
            try:
                results.append(order_snapshot(item.form))
                continue
            except (InvalidValue, *_UNEXPECTED):
                item = _as_sent(decoded, index, item)
        results.append(read_checkout_form_item(item))
    return results


def _as_sent(decoded: Callable[[], list[Any]], index: int, item: ListedForm) -> Any:
    """The page's item as Allegro sent it; the validated copy when it cannot be had."""
    try:
        return decoded()[index]
    except (AllegroError, *_UNEXPECTED):
        return dict(item.form)


def _read(data: Any, raw: Callable[[], str]) -> OrderSnapshot | UnreadableCheckoutForm:
    try:
        form = CHECKOUT_FORM.validate_python(data)
    except ValidationError as exc:
        return UnreadableCheckoutForm(_form_id(data), raw(), validation_reason(exc))
    except _UNEXPECTED as exc:
        return UnreadableCheckoutForm(_form_id(data), raw(), f"unreadable ({type(exc).__name__})")
    return _snapshot(form, raw)


def _snapshot(
    form: CheckoutFormWire, raw: Callable[[], str]
) -> OrderSnapshot | UnreadableCheckoutForm:
    try:
        return order_snapshot(form)
    except InvalidValue as exc:
        return UnreadableCheckoutForm(_form_id(form), raw(), f"invalid value: {exc}")
    except _UNEXPECTED as exc:
        logger.warning(
            "checkout form translation failed unexpectedly",
            extra={"checkout_form_id": _form_id(form), "error": type(exc).__name__},
        )
        return UnreadableCheckoutForm(_form_id(form), raw(), f"unreadable ({type(exc).__name__})")


def validation_reason(exc: ValidationError) -> str:
    """Where and why validation failed, without the offending values (buyer data)."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '<body>'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    more = len(problems) - 5
    return "; ".join(problems[:5]) + (f"; and {more} more" if more > 0 else "")


def _form_id(data: Any) -> str | None:
    """The item's id when it is a checkout form id: any other value names nothing we read."""
    if isinstance(data, dict):
        value = data.get("id")
        if identifiers.is_checkout_form_id(value):
            return str(value)
    return None


def order_snapshot(form: CheckoutFormWire) -> OrderSnapshot:
    """Raises `InvalidValue` when a value breaks a domain invariant (e.g. a bad amount) or
    an identifier is not of Allegro's shape (`MalformedIdentifier`)."""
    fulfillment = form.get("fulfillment")
    marketplace = form.get("marketplace")
    payment = form.get("payment")
    delivery = form.get("delivery")
    invoice = form.get("invoice")
    return OrderSnapshot(
        id=identifiers.checkout_form_id(form["id"]),
        revision=identifiers.revision(form.get("revision")),
        status=identifiers.enum_value(form["status"], "status"),
        fulfillment_status=identifiers.optional_enum(
            fulfillment.get("status") if fulfillment else None, "fulfillment status"
        ),
        fulfillment_provider=_fulfillment_provider(fulfillment),
        line_items_sent=_line_items_sent(fulfillment),
        marketplace=marketplace.get("id") if marketplace else None,
        buyer=_buyer(form["buyer"]),
        payment=_payment(payment) if payment else None,
        surcharges=tuple([_payment(surcharge) for surcharge in form.get("surcharges") or ()]),
        delivery=_delivery(delivery) if delivery else None,
        invoice=_invoice(invoice) if invoice else None,
        line_items=tuple([_line_item(item) for item in form["lineItems"]]),
        total_to_pay=money(form["summary"]["totalToPay"]),
        message_to_seller=form.get("messageToSeller"),
        updated_at=form.get("updatedAt"),
    )


def money(wire: MoneyWire) -> Money:
    return Money.parse(wire["amount"], wire["currency"])


def _optional_money(wire: MoneyWire | None) -> Money | None:
    return money(wire) if wire else None


def _fulfillment_provider(fulfillment: FulfillmentWire | None) -> str | None:
    """`fulfillment.provider.id`: `SELLER`, or `ALLEGRO` (One Fulfillment). An enumeration,
    checked like the fulfillment status next to it: a value Allegro adds is kept."""
    provider = fulfillment.get("provider") if fulfillment else None
    return identifiers.optional_enum(
        provider.get("id") if provider else None, "fulfillment provider"
    )


def _line_items_sent(fulfillment: FulfillmentWire | None) -> str | None:
    """`fulfillment.shipmentSummary.lineItemsSent`: `NONE`, `SOME`, `ALL` (an enumeration)."""
    summary = fulfillment.get("shipmentSummary") if fulfillment else None
    return identifiers.optional_enum(
        summary.get("lineItemsSent") if summary else None, "line items sent"
    )


def _buyer(buyer: BuyerWire) -> Buyer:
    return Buyer(
        id=buyer["id"],
        login=buyer["login"],
        email=buyer["email"],
        guest=bool(buyer.get("guest")),
        first_name=buyer.get("firstName"),
        last_name=buyer.get("lastName"),
        company_name=buyer.get("companyName"),
        phone=buyer.get("phoneNumber"),
    )


def _payment(payment: PaymentWire) -> Payment:
    return Payment(
        id=payment.get("id"),
        type=payment.get("type"),
        provider=payment.get("provider"),
        finished_at=payment.get("finishedAt"),
        paid_amount=_optional_money(payment.get("paidAmount")),
    )


def _delivery(delivery: DeliveryWire) -> Delivery:
    address = delivery.get("address")
    point = delivery.get("pickupPoint")
    return Delivery(
        address=ShippingAddress(
            name=_full_name(address.get("firstName"), address.get("lastName")),
            company=address.get("companyName"),
            street=address.get("street"),
            city=address.get("city"),
            postal_code=address.get("zipCode"),
            country_code=address.get("countryCode"),
            phone=address.get("phoneNumber"),
        )
        if address
        else None,
        method=_method(delivery.get("method")),
        pickup_point=PickupPoint(
            id=point.get("id"),
            name=point.get("name"),
            description=point.get("description"),
            address=_postal(point.get("address")),
        )
        if point
        else None,
        cost=_optional_money(delivery.get("cost")),
        dispatch=_dispatch(delivery),
    )


def _dispatch(delivery: DeliveryWire) -> TimeWindow | None:
    """`delivery.time.dispatch`: the window the parcel must leave in (its end: ship by)."""
    time = delivery.get("time")
    window = time.get("dispatch") if time else None
    if not window:
        return None
    return TimeWindow(start=window.get("from"), end=window.get("to"))


def _method(method: DeliveryMethodWire | None) -> DeliveryMethod | None:
    return DeliveryMethod(method.get("id"), method.get("name")) if method else None


def _invoice(invoice: InvoiceWire) -> Invoice:
    address = invoice.get("address")
    company = address.get("company") if address else None
    person = address.get("naturalPerson") if address else None
    tax_ids = (
        tuple(TaxId(item["type"], item["value"]) for item in (company.get("ids") or ()))
        if company
        else ()
    )
    legacy = company.get("taxId") if company else None
    if company and not tax_ids and legacy:
        tax_ids = (TaxId(_LEGACY_TAX_ID_TYPE, legacy),)
    return Invoice(
        required=bool(invoice.get("required")),
        company_name=company.get("name") if company else None,
        tax_ids=tax_ids,
        vat_payer_status=company.get("vatPayerStatus") if company else None,
        natural_person_first_name=person.get("firstName") if person else None,
        natural_person_last_name=person.get("lastName") if person else None,
        address=_postal(address),
    )


def _line_item(item: LineItemWire) -> LineItem:
    offer = item["offer"]
    external = offer.get("external")
    return LineItem(
        id=identifiers.checkout_form_id(item["id"], "line item id"),
        offer_id=offer["id"],
        offer_name=offer.get("name"),
        sku=external.get("id") if external else None,
        quantity=item["quantity"],
        unit_price=money(item["price"]),
        original_unit_price=_optional_money(item.get("originalPrice")),
        bought_at=item.get("boughtAt"),
        tax=_tax(item.get("tax")),
    )


def _tax(tax: LineItemTaxWire | None) -> LineItemTax | None:
    """As Allegro reports it (docs/allegro-api.md, Checkout form): `rate` a decimal string
    (`"23.00"`), `subject` an enumeration (`GOODS`; checked like the statuses, a value Allegro
    adds is kept), `exemption` free text; each may be null."""
    if not tax:
        return None
    return LineItemTax(
        rate=tax.get("rate"),
        subject=identifiers.optional_enum(tax.get("subject"), "tax subject"),
        exemption=tax.get("exemption"),
    )


def _postal(address: AddressWire | None) -> PostalAddress | None:
    if address is None:
        return None
    return PostalAddress(
        street=address.get("street"),
        city=address.get("city"),
        postal_code=address.get("zipCode"),
        country_code=address.get("countryCode"),
    )


def _full_name(first: str | None, last: str | None) -> str | None:
    """Both parts that are there (not empty), space-separated; None when neither is."""
    if first and last:
        return f"{first} {last}"
    return first or last or None
