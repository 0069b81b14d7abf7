"""Small pieces of Allegro's wire format shared by the generator and the state."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

Json = dict[str, Any]
T = TypeVar("T")

# Forms are immutable values (every change stores a new dict), so identical sub-objects
# (money, tax, marketplaces, delivery methods, offers, empty arrays) are shared between
# orders: it is what keeps 100 000 orders in a few hundred megabytes. Empty arrays are
# tuples, which JSON encodes the same way; callers get fresh lists via a JSON round trip.
EMPTY: tuple[()] = ()
_SHARED: dict[Hashable, Any] = {}
_SHARED_LIMIT = 500_000


def shared(key: Hashable, build: Callable[[], T]) -> T:
    value = _SHARED.get(key)
    if value is None:
        if len(_SHARED) >= _SHARED_LIMIT:
            _SHARED.clear()  # a soak run must not grow this forever; sharing is an optimisation
        value = _SHARED[key] = build()
    result: T = value
    return result


CHECKOUT_STATUSES = ("BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "CANCELLED")
FULFILLMENT_STATUSES = (
    "NEW",
    "PROCESSING",
    "READY_FOR_SHIPMENT",
    "READY_FOR_PICKUP",
    "SENT",
    "PICKED_UP",
    "CANCELLED",
    "SUSPENDED",
    "RETURNED",
)
# What the seller may PUT: Allegro alone sets RETURNED.
SETTABLE_FULFILLMENT = frozenset(FULFILLMENT_STATUSES) - {"RETURNED"}
EVENT_TYPES = (
    "BOUGHT",
    "FILLED_IN",
    "READY_FOR_PROCESSING",
    "BUYER_CANCELLED",
    "FULFILLMENT_STATUS_CHANGED",
    "BUYER_MODIFIED",
    "AUTO_CANCELLED",
)
# The journal's `type` filter accepts fewer values than the response enum.
FILTERABLE_EVENT_TYPES = frozenset(EVENT_TYPES) - {"BUYER_MODIFIED"}
# `fulfillment.provider.id`: One Fulfillment orders are shipped by Allegro's warehouse.
FULFILLMENT_PROVIDERS = ("SELLER", "ALLEGRO")
# `fulfillment.shipmentSummary.lineItemsSent`: how many line items have a tracking number.
LINE_ITEMS_SENT = ("NONE", "SOME", "ALL")
# Fulfillment statuses that mean the parcel left: every line item has been sent by then.
SENT_STATUSES = frozenset({"SENT", "PICKED_UP"})
# What the buyer can change on a paid order (each emits BUYER_MODIFIED); `resave` saves the
# same data again: a new revision and `updatedAt` with nothing else different.
BUYER_CHANGES = ("address", "pickup_point", "invoice", "phone", "resave")


def money(amount: Decimal, currency: str) -> Json:
    text = f"{amount:.2f}"
    return shared(("money", text, currency), lambda: {"amount": text, "currency": currency})


def fulfillment(status: str, sent: str = "NONE", provider: str = "SELLER") -> Json:
    return shared(
        ("fulfillment", status, sent, provider),
        lambda: {
            "status": status,
            "shipmentSummary": {"lineItemsSent": sent},
            "provider": {"id": provider},
        },
    )


def marketplace_ref(marketplace: str) -> Json:
    return shared(("marketplace", marketplace), lambda: {"id": marketplace})


def amount_of(value: Json) -> Decimal:
    return Decimal(value["amount"])


def items_total(line_items: Sequence[Json]) -> Decimal:
    return sum((amount_of(item["price"]) * item["quantity"] for item in line_items), Decimal(0))


def total_to_pay(form: Json) -> Decimal:
    """Sum of price * quantity + delivery + surcharges (Allegro does not document the formula:
    docs/allegro-api.md, Checkout form)."""
    delivery = form.get("delivery") or {}
    cost = amount_of(delivery["cost"]) if delivery.get("cost") else Decimal(0)
    extra = sum((amount_of(s["paidAmount"]) for s in form["surcharges"]), Decimal(0))
    return items_total(form["lineItems"]) + cost + extra


def snapshot_base(form: Json, seller_id: str) -> Json:
    """The parts of `OrderEventData` that never change for a given checkout form.

    Built once per form and shared by all its events, so a journal of millions of events
    stays small; the per-event part (checkoutForm id + revision) is added when rendering.
    """
    buyer = form["buyer"]
    snap_buyer: Json = {
        "id": buyer["id"],
        "email": buyer["email"],
        "login": buyer["login"],
        "guest": buyer["guest"],
    }
    if buyer.get("preferences"):
        snap_buyer["preferences"] = buyer["preferences"]
    items = []
    for item in form["lineItems"]:
        items.append(
            {
                "id": item["id"],
                "offer": _snapshot_offer(item["offer"]),
                "quantity": item["quantity"],
                "originalPrice": item["originalPrice"],
                "price": item["price"],
                "boughtAt": item["boughtAt"],
            }
        )
    return {
        "seller": shared(("seller", seller_id), lambda: {"id": seller_id}),
        "buyer": snap_buyer,
        "lineItems": items,
        "marketplace": form["marketplace"],
    }


def _snapshot_offer(offer: Json) -> Json:
    """The event's offer: no productSet, and `external` only when the seller set a SKU."""
    external = offer.get("external")

    def build() -> Json:
        result: Json = {"id": offer["id"], "name": offer["name"]}
        if external:
            result["external"] = external
        return result

    return shared(("snap-offer", offer["id"], offer["name"], str(external)), build)


def payment_reference(
    payment_id: str,
    payment_type: str,
    provider: str | None,
    finished_at: str | None,
    paid_amount: Json | None,
) -> Json:
    return {
        "id": payment_id,
        "type": payment_type,
        "provider": provider,
        "finishedAt": finished_at,
        "paidAmount": paid_amount,
        "reconciliation": None,
        "features": EMPTY,
    }
