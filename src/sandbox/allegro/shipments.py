"""Tracking numbers ("shipments") of checkout forms, and the carriers they may name.

Pure logic with time and randomness passed in; `SimulatorState` holds the lock and the
order book supplies the line items. What Allegro documents and what the simulator chooses
where it does not are in docs/allegro-api.md, Writing back to orders.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.allegro.errors import ErrorBody, errors_holder, validation_error
from sandbox.allegro.forms import LINE_ITEMS_SENT, Json

# (id, name) as `GET /order/carriers` lists them; OTHER has no name. The ids are Allegro's
# known ones; the names are illustrations (docs/allegro-api.md, Writing back to orders).
CARRIERS: tuple[tuple[str, str | None], ...] = (
    ("ALLEGRO", "Allegro"),
    ("INPOST", "InPost"),
    ("DPD", "DPD"),
    ("DHL", "DHL"),
    ("UPS", "UPS"),
    ("POCZTA_POLSKA", "Poczta Polska"),
    ("ORLEN", "ORLEN Paczka"),
    ("YUN_EXPRESS", "YunExpress"),
    ("OTHER", None),
)
CARRIER_IDS = frozenset(carrier for carrier, _ in CARRIERS)
OTHER = "OTHER"
WAYBILL_MAX = 64
CARRIER_NAME_MAX = 30
# Allegro rejects "a bad tracking number format" without saying what is bad; the simulator
# accepts ASCII letters, digits and hyphens, which every real carrier's numbers fit.
_WAYBILL = re.compile(r"^[A-Za-z0-9-]+$")
_SENT_RANK = {value: rank for rank, value in enumerate(LINE_ITEMS_SENT)}


def carriers_body() -> Json:
    return {
        "carriers": [
            {"id": carrier} if name is None else {"id": carrier, "name": name}
            for carrier, name in CARRIERS
        ]
    }


class ShipmentRejected(Exception):
    """Allegro's answer to a shipment it will not create: status plus `errors` body."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(body["errors"][0]["message"])
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class ShipmentRequest:
    """A validated `CheckoutFormAddWaybillRequest`; `line_item_ids` empty means all."""

    carrier_id: str
    waybill: str
    carrier_name: str | None
    line_item_ids: tuple[str, ...]


def _bad(message: str, path: str) -> ShipmentRejected:
    return ShipmentRejected(400, validation_error(message, path))


def parse_request(body: Any) -> ShipmentRequest:
    """The POST body checked field by field: a `400` names the first bad field."""
    if not isinstance(body, dict):
        raise ShipmentRejected(400, errors_holder("BAD_REQUEST", "Malformed JSON body"))
    carrier_id = body.get("carrierId")
    if not isinstance(carrier_id, str) or carrier_id not in CARRIER_IDS:
        raise _bad(f"Unknown carrier: {carrier_id!r}", "carrierId")
    waybill = body.get("waybill")
    if not isinstance(waybill, str) or not waybill:
        raise _bad("Waybill must not be empty", "waybill")
    if len(waybill) > WAYBILL_MAX:
        raise _bad(f"Waybill must not be longer than {WAYBILL_MAX} characters", "waybill")
    if not _WAYBILL.match(waybill):
        raise _bad("Invalid waybill format", "waybill")
    name = body.get("carrierName")
    if name is not None and not isinstance(name, str):
        raise _bad("Carrier name must be a string", "carrierName")
    if name is not None and len(name) > CARRIER_NAME_MAX:
        message = f"Carrier name must not be longer than {CARRIER_NAME_MAX} characters"
        raise _bad(message, "carrierName")
    items = body.get("lineItems")
    if items is None:
        items = []
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and isinstance(item.get("id"), str) for item in items
    ):
        raise _bad("lineItems must be a list of {id}", "lineItems")
    ids = tuple(dict.fromkeys(item["id"] for item in items))  # a repeated id covers it once
    # The name is only used for OTHER (docs/allegro-api.md): for other carriers it is dropped.
    return ShipmentRequest(carrier_id, waybill, name if carrier_id == OTHER else None, ids)


def line_items_sent(current: str, covered: int, total: int) -> str:
    """NONE / SOME / ALL by the line items covered; it never goes back, since tracking
    numbers are not taken back (and SENT or a Sales Center helper may have set it higher)."""
    by_shipments = "NONE" if covered == 0 else "ALL" if covered >= total else "SOME"
    return max(current, by_shipments, key=_SENT_RANK.__getitem__)


class ShipmentBook:
    """Every order's shipments, the orders each waybill is on, and POSTs per order."""

    def __init__(self, seed: int, waybill_order_limit: int) -> None:
        # Its own RNG: shipment ids must not shift the order data a seed reproduces.
        self._rng = random.Random(seed + 2)
        self._limit = waybill_order_limit
        self._by_order: dict[str, list[Json]] = {}
        self._orders_of_waybill: dict[str, set[str]] = {}
        self._posts: dict[str, int] = {}

    def of(self, order_id: str) -> list[Json]:
        return list(self._by_order.get(order_id, ()))

    def count_post(self, order_id: str) -> None:
        self._posts[order_id] = self._posts.get(order_id, 0) + 1

    def posts(self, order_id: str) -> int:
        return self._posts.get(order_id, 0)

    def all_posts(self) -> dict[str, int]:
        return dict(self._posts)

    def add(
        self,
        order_id: str,
        request: ShipmentRequest,
        order_line_items: Sequence[str],
        created_at: str,
    ) -> Json:
        """Create one shipment. No idempotency: the same request twice makes two of them."""
        unknown = [i for i in request.line_item_ids if i not in set(order_line_items)]
        if unknown:
            body = validation_error(f"Line item {unknown[0]} is not in this order", "lineItems")
            raise ShipmentRejected(422, body)
        holders = self._orders_of_waybill.get(request.waybill, set())
        if order_id not in holders and len(holders) >= self._limit:
            body = errors_holder(
                "WAYBILL_USED_IN_TOO_MANY_ORDERS",
                f"Waybill {request.waybill} is used in too many orders",
                path="waybill",
            )
            raise ShipmentRejected(409, body)
        covered = request.line_item_ids or tuple(order_line_items)
        shipment: Json = {
            "id": base64.b64encode(self._rng.randbytes(17)).decode(),
            "waybill": request.waybill,
            "carrierId": request.carrier_id,
            "carrierName": request.carrier_name,
            "lineItems": [{"id": item_id} for item_id in covered],
            "createdAt": created_at,
        }
        self._by_order.setdefault(order_id, []).append(shipment)
        self._orders_of_waybill.setdefault(request.waybill, set()).add(order_id)
        return shipment

    def covered(self, order_id: str, order_line_items: Collection[str]) -> int:
        """How many of the order's line items some shipment covers."""
        ids = {item["id"] for s in self._by_order.get(order_id, ()) for item in s["lineItems"]}
        return len(ids & set(order_line_items))
