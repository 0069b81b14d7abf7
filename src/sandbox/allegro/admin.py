"""`/__sim/*`: drive the simulator from another process (no auth, no faults, not logged)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.allegro.forms import BUYER_CHANGES, SETTABLE_FULFILLMENT
from sandbox.allegro.shipments import ShipmentRejected
from sandbox.allegro.state import OrderNotFound, SimulatorState

_MAX_BATCH = 200_000
_PAYMENTS = ("ONLINE", "CASH_ON_DELIVERY", "EXTENDED_TERM")
_AMOUNT = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


def _sim(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.sim
    return state


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def _bad(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)


def _count(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_BATCH:
        raise ValueError(f"{name} must be an integer in 0..{_MAX_BATCH}")
    return value


async def faults(request: Request) -> Response:
    state = _sim(request)
    if request.method == "POST":
        try:
            with state.locked():
                state.faults.update(await _json(request))
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
    with state.locked():
        return JSONResponse(state.faults.to_dict())


async def requests(request: Request) -> Response:
    state = _sim(request)
    if request.method == "DELETE":
        state.clear_request_log()
        return Response(status_code=204)
    entries = [entry._asdict() for entry in state.request_log]
    return JSONResponse({"requests": entries})


def _optional_bool(body: dict[str, Any], name: str, default: bool | None) -> bool | None:
    value = body.get(name, default)
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name} must be true, false or null")
    return value


async def orders(request: Request) -> Response:
    """Place and pay `count` orders (the usual way to give a client something to import).

    Optional: `payment` (ONLINE, CASH_ON_DELIVERY, EXTENDED_TERM; default random),
    `one_fulfillment` (true: Allegro One Fulfillment; null: a random share; default false).
    """
    state = _sim(request)
    try:
        body = await _json(request)
        count = _count(body, "count")
        payment = body.get("payment")
        if payment is not None and payment not in _PAYMENTS:
            raise ValueError(f"payment must be one of {', '.join(_PAYMENTS)} or null")
        one_fulfillment = _optional_bool(body, "one_fulfillment", False)
    except ValueError as exc:
        return _bad(str(exc))
    ids = []
    for _ in range(count):
        order_id = state.place_order(payment=payment, one_fulfillment=one_fulfillment)
        state.pay(order_id)
        ids.append(order_id)
    return JSONResponse({"ids": ids})


async def _order_action(
    request: Request, action: Callable[[SimulatorState, str, dict[str, Any]], dict[str, Any]]
) -> Response:
    """Run one buyer/Allegro/seller action on an order: 404 unknown order, 400 bad body,
    409 when the order is not in a state that allows it; else the new revision."""
    state = _sim(request)
    order_id = request.path_params["order_id"]
    try:
        body = await _json(request)
    except ValueError as exc:
        return _bad(str(exc))
    try:
        extra = action(state, order_id, body)
        revision = state.revision_of(order_id)
    except OrderNotFound:
        return JSONResponse({"error": f"unknown order {order_id}"}, status_code=404)
    except _BadBody as exc:
        return _bad(str(exc))
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"id": order_id, "revision": revision, **extra})


class _BadBody(Exception):
    pass


def _buyer_change(state: SimulatorState, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    change = body.get("change", "address")
    if change not in BUYER_CHANGES:
        raise _BadBody(f"change must be one of {', '.join(BUYER_CHANGES)}")
    state.buyer_change(order_id, change)
    return {}


def _surcharge(state: SimulatorState, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    amount = body.get("amount")
    if amount is not None and (not isinstance(amount, str) or not _AMOUNT.match(amount)):
        raise _BadBody('amount must be a decimal string such as "12.50", or null')
    if amount is not None and float(amount) <= 0:
        raise _BadBody("amount must be positive")
    return {"surchargeId": state.add_surcharge(order_id, amount)}


def _settle(state: SimulatorState, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    state.settle_extended_term(order_id)
    return {}


def _shipment(state: SimulatorState, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    count = body.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise _BadBody("count must be an integer or null (all line items)")
    state.send_line_items(order_id, count)
    return {}


def _fulfillment(state: SimulatorState, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    status = body.get("status")
    if status not in SETTABLE_FULFILLMENT:
        raise _BadBody(f"status must be one of {', '.join(sorted(SETTABLE_FULFILLMENT))}")
    state.set_fulfillment(order_id, str(status))
    return {}


async def fulfillment(request: Request) -> Response:
    """The seller changes the status in Sales Center: `{"status": "SENT"}` (no revision
    check; FULFILLMENT_STATUS_CHANGED when it changes, as for the API's PUT)."""
    return await _order_action(request, _fulfillment)


async def shipments(request: Request) -> Response:
    """GET: the order's shipments and how many `POST .../shipments` reached it.
    POST: a tracking number added in Sales Center, body as Allegro's POST
    (`carrierId`, `waybill`, `carrierName`, `lineItems`); Allegro's status on refusal."""
    state = _sim(request)
    order_id = request.path_params["order_id"]
    try:
        if request.method == "GET":
            listed = state.shipments(order_id)
            return JSONResponse({"shipments": listed, "posts": state.shipment_posts(order_id)})
        created = state.add_shipment_body(order_id, await _json(request))
    except OrderNotFound:
        return JSONResponse({"error": f"unknown order {order_id}"}, status_code=404)
    except ShipmentRejected as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)
    except ValueError as exc:
        return _bad(str(exc))
    return JSONResponse(created, status_code=201)


async def shipment_posts(request: Request) -> Response:
    """`{"posts": {order id: number of POST .../shipments that reached it}}`."""
    return JSONResponse({"posts": _sim(request).shipment_post_counts()})


async def buyer_change(request: Request) -> Response:
    """`{"change": "address" | "pickup_point" | "invoice" | "phone" | "resave"}`."""
    return await _order_action(request, _buyer_change)


async def surcharge(request: Request) -> Response:
    """A paid top-up, `{"amount": "12.50"}` (omitted: a random amount)."""
    return await _order_action(request, _surcharge)


async def settle_extended_term(request: Request) -> Response:
    """The money of an EXTENDED_TERM payment arrives: a second READY_FOR_PROCESSING."""
    return await _order_action(request, _settle)


async def shipment(request: Request) -> Response:
    """Tracking numbers for `{"count": n}` line items (omitted: all): lineItemsSent."""
    return await _order_action(request, _shipment)


async def script(request: Request) -> Response:
    state = _sim(request)
    try:
        body = await _json(request)
        n = _count(body, "n")
        seed = body.get("seed", 0)
        if not isinstance(seed, int):
            raise ValueError("seed must be an integer")
        post_import = _optional_bool(body, "post_import", False)
    except ValueError as exc:
        return _bad(str(exc))
    ids = state.script_mixed_lifecycles(n, seed, post_import=bool(post_import))
    return JSONResponse({"ids": ids})


async def stats(request: Request) -> Response:
    return JSONResponse(_sim(request).stats())


async def tokens(request: Request) -> Response:
    """A fresh refresh token, as if the seller had authorised the app again; optional
    `{"scopes": [...]}` asks for fewer scopes (e.g. without `allegro:api:orders:write`)."""
    try:
        scopes = (await _json(request)).get("scopes")
    except ValueError as exc:
        return _bad(str(exc))
    if scopes is not None and not (
        isinstance(scopes, list) and all(isinstance(x, str) for x in scopes)
    ):
        return _bad("scopes must be a list of strings or null")
    return JSONResponse({"refresh_token": _sim(request).issue_refresh_token(scopes)})


async def revoke(request: Request) -> Response:
    _sim(request).revoke_tokens()
    return Response(status_code=204)


async def device_decision(request: Request) -> Response:
    state = _sim(request)
    try:
        approve = (await _json(request)).get("approve", True)
        code = request.path_params["user_code"]
        state.approve_device(code) if approve else state.deny_device(code)
    except KeyError:
        return JSONResponse({"error": "unknown or already decided user code"}, status_code=404)
    except ValueError as exc:
        return _bad(str(exc))
    return Response(status_code=204)


ROUTES = [
    Route("/__sim/faults", faults, methods=["GET", "POST"]),
    Route("/__sim/requests", requests, methods=["GET", "DELETE"]),
    Route("/__sim/orders", orders, methods=["POST"]),
    Route("/__sim/orders/{order_id}/buyer-change", buyer_change, methods=["POST"]),
    Route("/__sim/orders/{order_id}/surcharge", surcharge, methods=["POST"]),
    Route(
        "/__sim/orders/{order_id}/extended-term-settlement", settle_extended_term, methods=["POST"]
    ),
    Route("/__sim/orders/{order_id}/shipment", shipment, methods=["POST"]),
    Route("/__sim/orders/{order_id}/shipments", shipments, methods=["GET", "POST"]),
    Route("/__sim/orders/{order_id}/fulfillment", fulfillment, methods=["POST"]),
    Route("/__sim/shipment-posts", shipment_posts, methods=["GET"]),
    Route("/__sim/script", script, methods=["POST"]),
    Route("/__sim/stats", stats, methods=["GET"]),
    Route("/__sim/tokens", tokens, methods=["POST"]),
    Route("/__sim/revoke", revoke, methods=["POST"]),
    Route("/__sim/devices/{user_code}", device_decision, methods=["POST"]),
]
