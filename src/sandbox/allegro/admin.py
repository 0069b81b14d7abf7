"""`/__sim/*`: drive the simulator from another process (no auth, no faults, not logged)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.allegro.state import SimulatorState

_MAX_BATCH = 200_000


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


async def orders(request: Request) -> Response:
    """Place and pay `count` orders (the usual way to give a client something to import)."""
    state = _sim(request)
    try:
        count = _count(await _json(request), "count")
    except ValueError as exc:
        return _bad(str(exc))
    ids = []
    for _ in range(count):
        order_id = state.place_order()
        state.pay(order_id)
        ids.append(order_id)
    return JSONResponse({"ids": ids})


async def script(request: Request) -> Response:
    state = _sim(request)
    try:
        body = await _json(request)
        n = _count(body, "n")
        seed = body.get("seed", 0)
        if not isinstance(seed, int):
            raise ValueError("seed must be an integer")
    except ValueError as exc:
        return _bad(str(exc))
    return JSONResponse({"ids": state.script_mixed_lifecycles(n, seed)})


async def stats(request: Request) -> Response:
    return JSONResponse(_sim(request).stats())


async def tokens(request: Request) -> Response:
    """A fresh refresh token, as if the seller had authorised the app again."""
    return JSONResponse({"refresh_token": _sim(request).issue_refresh_token()})


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
    Route("/__sim/script", script, methods=["POST"]),
    Route("/__sim/stats", stats, methods=["GET"]),
    Route("/__sim/tokens", tokens, methods=["POST"]),
    Route("/__sim/revoke", revoke, methods=["POST"]),
    Route("/__sim/devices/{user_code}", device_decision, methods=["POST"]),
]
