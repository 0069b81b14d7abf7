"""`OrderWriter` over `PUT /order/checkout-forms/{id}/fulfillment`, `GET`/`POST
/order/checkout-forms/{id}/shipments` and `GET /order/carriers` (docs/allegro-api.md,
Writing back to orders).

Every call goes through `AllegroApi`, so the client id's one budget (the token bucket and its
429 block), retries, the token refresh and the body limit cover the writes as they cover the
reads. What may be repeated differs:
- the fulfillment `PUT` is repeated after a 5xx or a timeout like a read: the same status
  with the same revision either applies once or, when a lost `204` had applied it, answers
  `409` because the revision moved, which the caller checks against the order
  (application/apply_command.py);
- the shipments `POST` is not: Allegro has no idempotency key there and a second `POST`
  is a second shipment. After a timeout, a 5xx or a lost answer it may exist, so the outage
  goes to the caller, which lists the order's shipments before it posts again. Only a 429
  (Allegro refused it unprocessed) or a connection that never opened is repeated here.
The shipments resource (`GET` and `POST` together) and the carriers resource each take at
most 50 requests a second: each has its own `WindowLimiter` besides the shared budget
(paced below the cap, see `CAP_SLICE_SECONDS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.allegro.api import AllegroApi, validate_body
from adapters.allegro.endpoint_limit import WindowLimiter
from adapters.allegro.identifiers import describe, is_checkout_form_id
from adapters.allegro.timing import Timing
from adapters.allegro.wire_order_writes import (
    CARRIERS_BODY,
    SHIPMENT_BODY,
    SHIPMENTS_BODY,
    ShipmentWire,
)
from application.ports.errors import AllegroRejected, CheckoutFormNotFound
from application.ports.order_writes import OrderWriter, RevisionConflict, Shipment

FULFILLMENT = "/order/checkout-forms/{id}/fulfillment"
SHIPMENTS = "/order/checkout-forms/{id}/shipments"
CARRIERS = "/order/carriers"
REVISION_PARAM = "checkoutForm.revision"

# Allegro's cap on each of the two resources (docs/allegro-api.md, Writing back to orders).
PER_SECOND_CAP = 50
# Allegro counts arrivals, the limiter departures. At most a fifth of the cap leaves in any
# quarter of a second: any second of departures then holds at most 40 requests, and any
# second of arrivals at most 50 as long as the requests' delays differ by less than a
# quarter of a second (a burst of 50 at once would exceed the cap on the smallest jitter).
CAP_SLICE_SECONDS = 0.25
CAP_PER_SLICE = PER_SECOND_CAP // 5


def resource_limiter(timing: Timing) -> WindowLimiter:
    return WindowLimiter(
        CAP_PER_SLICE, CAP_SLICE_SECONDS, monotonic=timing.monotonic, sleep=timing.sleep
    )


class HttpxOrderWriter(OrderWriter):
    def __init__(
        self,
        api: AllegroApi,
        *,
        shipments_limiter: WindowLimiter,
        carriers_limiter: WindowLimiter,
    ) -> None:
        self._api = api
        self._shipments_limiter = shipments_limiter
        self._carriers_limiter = carriers_limiter

    async def set_fulfillment_status(
        self, checkout_form_id: str, status: str, revision: str | None
    ) -> None:
        path = _form_path(checkout_form_id, "fulfillment")
        # Without a revision the write is unconditional (last writer wins).
        params = {REVISION_PARAM: revision} if revision is not None else None
        try:
            await self._api.request(
                "PUT", FULFILLMENT, path, params=params, json_body={"status": status}
            )
        except AllegroRejected as exc:
            if exc.status_code == 409:  # "Provided revision is outdated"
                raise RevisionConflict(str(exc), 409, exc.code) from exc
            _raise_not_found(exc, checkout_form_id)
            raise

    async def shipments(self, checkout_form_id: str) -> Sequence[Shipment]:
        path = _form_path(checkout_form_id, "shipments")
        try:
            response = await self._api.request(
                "GET", SHIPMENTS, path, limiter=self._shipments_limiter
            )
        except AllegroRejected as exc:
            _raise_not_found(exc, checkout_form_id)
            raise
        body = validate_body(SHIPMENTS_BODY, response, SHIPMENTS)
        return [_shipment(item) for item in body["shipments"]]

    async def add_shipment(
        self,
        checkout_form_id: str,
        carrier_id: str,
        waybill: str,
        carrier_name: str | None,
        line_item_ids: Sequence[str],
    ) -> Shipment:
        path = _form_path(checkout_form_id, "shipments")
        body: dict[str, Any] = {"carrierId": carrier_id, "waybill": waybill}
        if carrier_name is not None:
            body["carrierName"] = carrier_name
        if line_item_ids:  # omitted: every line item of the order
            body["lineItems"] = [{"id": line_item_id} for line_item_id in line_item_ids]
        try:
            response = await self._api.request(
                "POST",
                SHIPMENTS,
                path,
                json_body=body,
                repeatable=False,  # no idempotency key: see the module docstring
                limiter=self._shipments_limiter,
            )
        except AllegroRejected as exc:  # a 409 here is "waybill used in too many orders"
            _raise_not_found(exc, checkout_form_id)
            raise
        return _shipment(validate_body(SHIPMENT_BODY, response, SHIPMENTS))

    async def carrier_ids(self) -> frozenset[str]:
        response = await self._api.request(
            "GET", CARRIERS, CARRIERS, limiter=self._carriers_limiter
        )
        body = validate_body(CARRIERS_BODY, response, CARRIERS)
        return frozenset(carrier["id"] for carrier in body["carriers"])


def _form_path(checkout_form_id: str, resource: str) -> str:
    """The resource's path; an id that is not a checkout form id never becomes a path (it
    could name another resource). Allegro answers 422 to such an id, and so does this."""
    if not is_checkout_form_id(checkout_form_id):
        raise AllegroRejected(
            f"{describe(checkout_form_id)} is not a checkout form id (a UUID)", 422
        )
    return f"/order/checkout-forms/{checkout_form_id}/{resource}"


def _raise_not_found(exc: AllegroRejected, checkout_form_id: str) -> None:
    """404: the order is unknown or not the seller's (merged, or older than 12 months)."""
    if exc.status_code == 404:
        raise CheckoutFormNotFound(checkout_form_id) from exc


def _shipment(item: ShipmentWire) -> Shipment:
    line_items = item.get("lineItems") or []
    return Shipment(
        id=item["id"],
        carrier_id=item["carrierId"],
        waybill=item["waybill"],
        line_item_ids=tuple(line_item["id"] for line_item in line_items),
    )
