"""The offer REST resources: the offer list, one offer (read and PATCH), the batch
commands (quantity, price, publication) with their reports, and the offer event journal."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.allegro import errors
from sandbox.allegro.offer_commands import CommandRejected
from sandbox.allegro.offer_desk import CommandNotFound
from sandbox.allegro.offer_events import EVENT_TYPES, BadEventId
from sandbox.allegro.offers import CURRENCIES, SORTS, STATUSES, OfferNotFound, OfferQuery
from sandbox.allegro.params import ParamError, int_param
from sandbox.allegro.responses import VENDOR_JSON, vendor
from sandbox.allegro.rest import resource
from sandbox.allegro.state import SimulatorState

READ = "allegro:api:sale:offers:read"
WRITE = "allegro:api:sale:offers:write"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_OFFER_ID = re.compile(r"^[0-9]{1,20}$")
_MAX_EXTERNAL_IDS = 100
_MAX_EXTERNAL_ID_LENGTH = 100
_MAX_OFFER_IDS = 1000  # the simulator's bound on repeated `offer.id`
_OFFSET_MAX = 9_999_999
_WINDOW = 10_000_000  # offset + limit may not pass it
_PATHS = {
    "quantity": "/sale/offer-quantity-change-commands",
    "price": "/sale/offer-price-change-commands",
    "publication": "/sale/offer-publication-commands",
}


def _bad(message: str, path: str) -> ParamError:
    return ParamError(400, errors.errors_holder("VALIDATION_ERROR", message, path=path))


def _values(request: Request, name: str, allowed: tuple[str, ...] | None = None) -> frozenset[str]:
    values = request.query_params.getlist(name)
    if allowed is not None:
        unknown = [value for value in values if value not in allowed]
        if unknown:
            raise _bad(f"Illegal value of {name}", name)
    return frozenset(values)


async def list_offers(request: Request, state: SimulatorState) -> Response:
    query = request.query_params
    skus = query.getlist("external.id")
    if len(skus) > _MAX_EXTERNAL_IDS:
        raise _bad(f"external.id takes at most {_MAX_EXTERNAL_IDS} values", "external.id")
    if any(len(sku) > _MAX_EXTERNAL_ID_LENGTH for sku in skus):
        message = f"external.id values are at most {_MAX_EXTERNAL_ID_LENGTH} characters"
        raise _bad(message, "external.id")
    offer_ids = query.getlist("offer.id")
    if len(offer_ids) > _MAX_OFFER_IDS:
        raise _bad(f"offer.id takes at most {_MAX_OFFER_IDS} values", "offer.id")
    marketplace = query.get("publication.marketplace")
    if marketplace is not None and marketplace not in CURRENCIES:
        raise _bad("Illegal value of publication.marketplace", "publication.marketplace")
    offset = int_param(query, "offset", 0, 0, _OFFSET_MAX)
    limit = int_param(query, "limit", 20, 1, 1000)
    if offset + limit > _WINDOW:
        raise ParamError(
            422, errors.validation_error("offset + limit must not exceed 10000000", "offset")
        )
    name = query.get("name")
    sort = query.get("sort")
    if sort is not None and sort not in SORTS:
        raise _bad("Illegal value of sort", "sort")
    offers, total = state.search_offers(
        OfferQuery(
            offer_ids=frozenset(offer_ids),
            skus=frozenset(skus),
            statuses=_values(request, "publication.status", STATUSES),
            marketplace=marketplace,
            name=name[:200] if name else None,
            sort=sort,
            offset=offset,
            limit=limit,
        )
    )
    return vendor({"offers": offers, "count": len(offers), "totalCount": total})


async def product_offer(request: Request, state: SimulatorState) -> Response:
    offer_id: str = request.path_params["offer_id"]
    if not _OFFER_ID.match(offer_id):
        raise _bad("Invalid offer id", "offerId")
    try:
        return vendor(state.offer(offer_id))
    except OfferNotFound:
        return _offer_not_found(offer_id, request.url.path)


def _offer_not_found(offer_id: str, path: str) -> Response:
    body = errors.errors_holder(
        "NOT_FOUND",
        f"Offer {offer_id} not found.",
        path=path,
        user_message="The offer could not be found.",
    )
    return vendor(body, 404)


async def patch_offer(request: Request, state: SimulatorState) -> Response:
    offer_id: str = request.path_params["offer_id"]
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != VENDOR_JSON:
        return vendor(errors.UNSUPPORTED_MEDIA, 415)
    if not _OFFER_ID.match(offer_id):
        raise _bad("Invalid offer id", "offerId")
    try:
        return vendor(state.patch_offer(offer_id, await request.body()))
    except OfferNotFound:
        return _offer_not_found(offer_id, request.url.path)
    except CommandRejected as exc:
        return vendor(exc.body, exc.status)


def _command_id(request: Request) -> str:
    command_id: str = request.path_params["command_id"]
    if not _UUID.match(command_id):
        raise _bad("commandId must be a UUID", "commandId")
    return command_id


def _command_not_found(command_id: str) -> Response:
    body = errors.errors_holder("NOT_FOUND", f"Command {command_id} not found.")
    return vendor(body, 404)


def _put(kind: str) -> Route:
    async def put_command(request: Request, state: SimulatorState) -> Response:
        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media != VENDOR_JSON:
            return vendor(errors.UNSUPPORTED_MEDIA, 415)
        command_id = _command_id(request)
        status, body = state.put_offer_command(kind, command_id, await request.body())
        return vendor(body, status)

    return Route(f"{_PATHS[kind]}/{{command_id}}", resource(put_command, WRITE), methods=["PUT"])


def _report(kind: str) -> Route:
    async def command_report(request: Request, state: SimulatorState) -> Response:
        command_id = _command_id(request)
        try:
            return vendor(state.offer_command_report(kind, command_id))
        except CommandNotFound:
            return _command_not_found(command_id)

    return Route(f"{_PATHS[kind]}/{{command_id}}", resource(command_report, WRITE), methods=["GET"])


def _tasks(kind: str) -> Route:
    async def command_tasks(request: Request, state: SimulatorState) -> Response:
        command_id = _command_id(request)
        limit = int_param(request.query_params, "limit", 100, 1, 1000)
        offset = int_param(request.query_params, "offset", 0, 0, 999)
        try:
            tasks = state.offer_command_tasks(kind, command_id, offset, limit)
        except CommandNotFound:
            return _command_not_found(command_id)
        return vendor({"tasks": tasks})

    return Route(
        f"{_PATHS[kind]}/{{command_id}}/tasks", resource(command_tasks, WRITE), methods=["GET"]
    )


async def offer_events(request: Request, state: SimulatorState) -> Response:
    limit = int_param(request.query_params, "limit", 100, 1, 1000)
    types = _values(request, "type", EVENT_TYPES)
    after = request.query_params.get("from")
    try:
        events = state.offer_events(after, types or None, limit)
    except BadEventId as exc:
        raise _bad(f"Invalid value of from: {exc}", "from") from None
    return vendor({"offerEvents": events})


ROUTES = [
    Route("/sale/offers", resource(list_offers, READ), methods=["GET"]),
    Route("/sale/product-offers/{offer_id}", resource(product_offer, READ), methods=["GET"]),
    Route("/sale/product-offers/{offer_id}", resource(patch_offer, WRITE), methods=["PATCH"]),
    Route("/sale/offer-events", resource(offer_events, READ), methods=["GET"]),
    *(route for kind in _PATHS for route in (_put(kind), _report(kind), _tasks(kind))),
]
