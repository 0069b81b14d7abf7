"""The order REST resources: journal, event stats, checkout forms, and the writes back:
fulfillment status, shipments (tracking numbers) and carriers."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.allegro import errors
from sandbox.allegro.encoding import EncodingCache
from sandbox.allegro.forms import (
    CHECKOUT_STATUSES,
    FILTERABLE_EVENT_TYPES,
    FULFILLMENT_PROVIDERS,
    FULFILLMENT_STATUSES,
    LINE_ITEMS_SENT,
    SETTABLE_FULFILLMENT,
)
from sandbox.allegro.orderstore import ListQuery
from sandbox.allegro.params import ParamError, choice_param, datetime_param, int_param
from sandbox.allegro.responses import VENDOR_JSON, plain, vendor, vendor_bytes
from sandbox.allegro.shipments import ShipmentRejected, carriers_body
from sandbox.allegro.state import OrderNotFound, RevisionConflict, SimulatorState
from sandbox.allegro.tokens import OAuthError

Handler = Callable[[Request, SimulatorState], Awaitable[Response]]
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_WINDOW = 10_000  # offset + limit may not pass it
_SORTS = {
    "-lineItems.boughtAt": (False, True),
    "lineItems.boughtAt": (False, False),
    "-updatedAt": (True, True),
    "updatedAt": (True, False),
}
_BEARER_CHALLENGE = {"www-authenticate": 'Bearer realm="allegro", error="invalid_token"'}
READ = "allegro:api:orders:read"
WRITE = "allegro:api:orders:write"
# The carrier list changes rarely and may be cached per its headers (docs/allegro-api.md,
# Writing back to orders); a day is the simulator's choice.
_CARRIERS_CACHE = {"cache-control": "public, max-age=86400"}


def _accepts_vendor(accept: str | None) -> bool:
    if not accept:
        return False
    return any(part.split(";")[0].strip().lower() == VENDOR_JSON for part in accept.split(","))


def resource(
    handler: Handler, scope: str | None = READ
) -> Callable[[Request], Awaitable[Response]]:
    """Accept header, then bearer token and its scope, then the handler; parameter errors
    become 4xx. `scope=None`: a resource an application token may read too (no seller data).
    """

    async def endpoint(request: Request) -> Response:
        state: SimulatorState = request.app.state.sim
        if not _accepts_vendor(request.headers.get("accept")):
            return plain(errors.NOT_ACCEPTABLE, 406)
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return vendor(errors.MISSING_TOKEN, 401, _BEARER_CHALLENGE)
        try:
            grant = state.authenticate(token.strip())
        except OAuthError as exc:
            return vendor(exc.body(), 401, _BEARER_CHALLENGE)
        if scope is not None and not grant.allows(scope):
            # App tokens cannot touch a seller's orders; a user token needs the scope.
            return vendor(errors.ACCESS_DENIED, 403)
        try:
            return await handler(request, state)
        except ParamError as exc:
            return vendor(exc.body, exc.status)

    return endpoint


async def order_events(request: Request, state: SimulatorState) -> Response:
    query = request.query_params
    limit = int_param(query, "limit", 100, 1, 1000)
    types = query.getlist("type")
    unknown = [t for t in types if t not in FILTERABLE_EVENT_TYPES]
    if unknown:
        raise ParamError(422, errors.validation_error(f"Unknown event type: {unknown[0]}", "type"))
    raw_from = query.get("from")
    # A non-numeric `from` is ignored rather than rejected, as the journals were seen to do.
    after = int(raw_from) if raw_from and raw_from.isdigit() else None
    events = state.events_page(after, set(types) or None, limit)
    return vendor_bytes(_encoding(request).events_page(events))


async def event_stats(request: Request, state: SimulatorState) -> Response:
    latest = state.latest_event()
    return vendor({"latestEvent": latest} if latest else {})


def _encoding(request: Request) -> EncodingCache:
    cache: EncodingCache = request.app.state.encoding
    return cache


def _checkout_form_id(request: Request) -> str:
    order_id: str = request.path_params["id"]
    if not _UUID.match(order_id):
        raise ParamError(422, errors.validation_error(f"Invalid UUID: {order_id}", "id"))
    return order_id


def _not_found(order_id: str, path: str) -> Response:
    body = errors.errors_holder(
        "CheckoutFormNotFoundException",
        f"Checkout form {order_id} not found.",
        path=path,
        user_message="The order could not be found.",
    )
    return vendor(body, 404)


async def checkout_form(request: Request, state: SimulatorState) -> Response:
    order_id = _checkout_form_id(request)
    form = state.find_form(order_id)
    if form is None:
        return _not_found(order_id, request.url.path)
    return vendor_bytes(_encoding(request).text(form).encode())


async def checkout_forms(request: Request, state: SimulatorState) -> Response:
    query = request.query_params
    offset = int_param(query, "offset", 0, 0, _WINDOW)
    limit = int_param(query, "limit", 100, 1, 100)
    if offset + limit > _WINDOW:
        raise ParamError(
            422, errors.validation_error("offset + limit must not exceed 10000", "offset")
        )
    sort = choice_param(query, "sort", _SORTS) or "-lineItems.boughtAt"
    by_updated, descending = _SORTS[sort]
    forms, total = state.list_forms(
        ListQuery(
            offset=offset,
            limit=limit,
            status=choice_param(query, "status", CHECKOUT_STATUSES),
            fulfillment=choice_param(query, "fulfillment.status", FULFILLMENT_STATUSES),
            marketplace=query.get("marketplace.id"),
            login=query.get("buyer.login"),
            # Enums answer 400 for an unknown value (docs/allegro-api.md, Checkout form
            # list); ids are free strings: an unknown one matches nothing.
            provider=choice_param(query, "fulfillment.provider.id", FULFILLMENT_PROVIDERS),
            sent=choice_param(query, "fulfillment.shipmentSummary.lineItemsSent", LINE_ITEMS_SENT),
            payment_id=query.get("payment.id"),
            surcharge_id=query.get("surcharges.id"),
            method_id=query.get("delivery.method.id"),
            bought_gte=datetime_param(query, "lineItems.boughtAt.gte"),
            bought_lte=datetime_param(query, "lineItems.boughtAt.lte"),
            updated_gte=datetime_param(query, "updatedAt.gte"),
            updated_lte=datetime_param(query, "updatedAt.lte"),
            sort_by_updated=by_updated,
            descending=descending,
        )
    )
    return vendor_bytes(_encoding(request).forms_page(forms, total))


def _vendor_body_type(request: Request) -> bool:
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    return media == VENDOR_JSON


_MALFORMED = errors.errors_holder("BAD_REQUEST", "Malformed JSON body")


async def put_fulfillment(request: Request, state: SimulatorState) -> Response:
    order_id = _checkout_form_id(request)
    if not _vendor_body_type(request):
        return vendor(errors.UNSUPPORTED_MEDIA, 415)
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return vendor(_MALFORMED, 400)
    status = body.get("status") if isinstance(body, dict) else None
    if status not in SETTABLE_FULFILLMENT:
        message = f"Fulfillment status {status!r} cannot be set"
        return vendor(errors.validation_error(message, "status"), 422)
    try:
        state.set_fulfillment(
            order_id,
            str(status),
            expected_revision=request.query_params.get("checkoutForm.revision"),
        )
    except OrderNotFound:
        return _not_found(order_id, request.url.path)
    except RevisionConflict:
        body = errors.errors_holder("ConflictException", "Provided revision is outdated")
        return vendor(body, 409)
    return Response(status_code=204)


async def list_shipments(request: Request, state: SimulatorState) -> Response:
    order_id = _checkout_form_id(request)
    try:
        return vendor({"shipments": state.shipments(order_id)})
    except OrderNotFound:
        return _not_found(order_id, request.url.path)


async def post_shipment(request: Request, state: SimulatorState) -> Response:
    """No idempotency key: the same body twice creates two shipments, as on Allegro."""
    order_id = _checkout_form_id(request)
    if not _vendor_body_type(request):
        return vendor(errors.UNSUPPORTED_MEDIA, 415)
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return vendor(_MALFORMED, 400)
    try:
        created = state.post_shipment(order_id, body)
    except ShipmentRejected as exc:
        return vendor(exc.body, exc.status)
    except OrderNotFound:
        return _not_found(order_id, request.url.path)
    return vendor(created, 201)


async def carriers(request: Request, state: SimulatorState) -> Response:
    return vendor(carriers_body(), 200, _CARRIERS_CACHE)


ROUTES = [
    Route("/order/events", resource(order_events), methods=["GET"]),
    Route("/order/event-stats", resource(event_stats), methods=["GET"]),
    Route("/order/checkout-forms", resource(checkout_forms), methods=["GET"]),
    Route("/order/checkout-forms/{id}", resource(checkout_form), methods=["GET"]),
    Route(
        "/order/checkout-forms/{id}/fulfillment",
        resource(put_fulfillment, WRITE),
        methods=["PUT"],
    ),
    Route("/order/checkout-forms/{id}/shipments", resource(list_shipments), methods=["GET"]),
    Route(
        "/order/checkout-forms/{id}/shipments",
        resource(post_shipment, WRITE),
        methods=["POST"],
    ),
    Route("/order/carriers", resource(carriers, scope=None), methods=["GET"]),
]
