"""`/__sim/offers*`, `/__sim/offer-*` and `/__sim/clock`: drive the offers from another
process (no auth, no faults, not logged), like the order routes in admin.py."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.allegro.admin import _bad, _count, _json, _sim
from sandbox.allegro.offers import CURRENCIES, OfferRejected, OfferSpec, parse_amount
from sandbox.allegro.state import OfferNotFound, SimulatorState
from sandbox.allegro.timefmt import iso_millis, to_micros

_MAX_EXPLICIT = 10_000
_MAX_ADVANCE = 400 * 86_400.0


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name} must be an integer or null")
    return value


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null")
    return value


def _marketplaces(raw: object) -> dict[str, Decimal | None]:
    """`["allegro-cz"]` (prices converted from the base one) or `{"allegro-cz": "229.00"}`."""
    if raw is None:
        return {}
    if isinstance(raw, list) and all(isinstance(mp, str) for mp in raw):
        return dict.fromkeys(raw)
    if isinstance(raw, dict):
        return {
            str(mp): parse_amount(price) if price is not None else None for mp, price in raw.items()
        }
    raise ValueError("marketplaces must be a list of ids or an object id -> price")


def _spec(item: object) -> OfferSpec:
    if not isinstance(item, dict):
        raise ValueError("each offer must be an object")
    price = _optional_str(item, "price")
    return OfferSpec(
        id=_optional_str(item, "id"),
        name=_optional_str(item, "name"),
        sku=_optional_str(item, "sku"),
        stock=_optional_int(item, "stock"),
        price=parse_amount(price) if price is not None else None,
        status=_optional_str(item, "status") or "ACTIVE",
        marketplaces=_marketplaces(item.get("marketplaces")),
    )


def _create(state: SimulatorState, body: dict[str, Any]) -> list[str]:
    if "offers" in body:
        items = body["offers"]
        if not isinstance(items, list) or len(items) > _MAX_EXPLICIT:
            raise ValueError(f"offers must be a list of at most {_MAX_EXPLICIT} offers")
        emit = body.get("emit", False)
        if not isinstance(emit, bool):
            raise ValueError("emit must be true or false")
        return state.add_offers([_spec(item) for item in items], emit=emit)
    count = _count(body, "count")
    skus = body.get("skus", count)
    seed = body.get("seed", 0)
    if isinstance(skus, bool) or not isinstance(skus, int) or not 1 <= skus <= max(count, 1):
        raise ValueError("skus must be an integer within 1..count")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("seed must be an integer")
    marketplaces = body.get("marketplaces", [])
    if not isinstance(marketplaces, list) or not all(
        mp in CURRENCIES and mp != "allegro-pl" for mp in marketplaces
    ):
        raise ValueError("marketplaces must list additional marketplace ids, e.g. allegro-cz")
    return state.seed_offers(count, skus, marketplaces, seed)


async def offers(request: Request) -> Response:
    """Seed offers: `{"count": 1500, "skus": 600, "marketplaces": ["allegro-cz"], "seed": 7}`
    or `{"offers": [{"id", "name", "sku", "stock", "price", "status", "marketplaces"}],
    "emit": false}`. Answers `{"ids": [...]}`."""
    state = _sim(request)
    try:
        ids = _create(state, await _json(request))
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))
    return JSONResponse({"ids": ids})


async def offer(request: Request) -> Response:
    """`{"offer": <as GET /sale/product-offers>, "listing": <as GET /sale/offers>}`."""
    state = _sim(request)
    offer_id = request.path_params["offer_id"]
    try:
        return JSONResponse(
            {"offer": state.offer(offer_id), "listing": state.listed_offer(offer_id)}
        )
    except OfferNotFound:
        return JSONResponse({"error": f"unknown offer {offer_id}"}, status_code=404)


async def _offer_action(
    request: Request, action: Callable[[SimulatorState, str, dict[str, Any]], None]
) -> Response:
    """404 unknown offer, 400 bad body, 409 when the offer's state refuses; else the offer."""
    state = _sim(request)
    offer_id = request.path_params["offer_id"]
    try:
        action(state, offer_id, await _json(request))
        return JSONResponse({"offer": state.offer(offer_id)})
    except OfferNotFound:
        return JSONResponse({"error": f"unknown offer {offer_id}"}, status_code=404)
    except OfferRejected as exc:
        return JSONResponse({"error": exc.message, "code": exc.code}, status_code=409)
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))


def _change(state: SimulatorState, offer_id: str, body: dict[str, Any]) -> None:
    state.change_offer(
        offer_id,
        stock=_optional_int(body, "stock"),
        price=_optional_str(body, "price"),
        marketplace=_optional_str(body, "marketplace"),
        action=_optional_str(body, "action"),
        ended_by=_optional_str(body, "ended_by") or "USER",
    )


def _sale(state: SimulatorState, offer_id: str, body: dict[str, Any]) -> None:
    quantity = _optional_int(body, "quantity")
    state.sell_offer(offer_id, 1 if quantity is None else quantity)


async def change(request: Request) -> Response:
    """A change in Sales Center: `{"stock": 5, "price": "49.99", "marketplace":
    "allegro-cz", "action": "END" | "ACTIVATE", "ended_by": "USER" | "ADMIN" | ...}`."""
    return await _offer_action(request, _change)


async def sale(request: Request) -> Response:
    """A buyer takes `{"quantity": n}` items (default 1); 0 left ends it (EMPTY_STOCK)."""
    return await _offer_action(request, _sale)


async def offer_events(request: Request) -> Response:
    return JSONResponse({"offerEvents": _sim(request).offer_journal()})


async def duplicate_event(request: Request) -> Response:
    """Deliver a retained event once more, with the same id (Allegro's journal does)."""
    event_id = request.path_params["event_id"]
    try:
        _sim(request).duplicate_offer_event(event_id)
    except (KeyError, ValueError):
        return JSONResponse({"error": "unknown or expired event id"}, status_code=404)
    return Response(status_code=204)


async def command_puts(request: Request) -> Response:
    """`{"puts": [{"commandId", "kind", "digest", "offers", "status", "at"}]}`."""
    return JSONResponse({"puts": _sim(request).offer_command_puts()})


async def clock(request: Request) -> Response:
    """GET: the simulated time. POST `{"advance_seconds": 90000}`: move it forward."""
    state = _sim(request)
    if request.method == "POST":
        try:
            seconds = (await _json(request)).get("advance_seconds")
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int | float)
                or not 0 <= seconds <= _MAX_ADVANCE
            ):
                raise ValueError(f"advance_seconds must be a number within 0..{_MAX_ADVANCE:.0f}")
            state.advance_clock(float(seconds))
        except ValueError as exc:
            return _bad(str(exc))
    wall = state.clock.wall()
    return JSONResponse({"wall": wall, "now": iso_millis(to_micros(wall))})


ROUTES = [
    Route("/__sim/offers", offers, methods=["POST"]),
    Route("/__sim/offers/{offer_id}", offer, methods=["GET"]),
    Route("/__sim/offers/{offer_id}/change", change, methods=["POST"]),
    Route("/__sim/offers/{offer_id}/sale", sale, methods=["POST"]),
    Route("/__sim/offer-events", offer_events, methods=["GET"]),
    Route("/__sim/offer-events/{event_id}/duplicate", duplicate_event, methods=["POST"]),
    Route("/__sim/offer-commands", command_puts, methods=["GET"]),
    Route("/__sim/clock", clock, methods=["GET", "POST"]),
]
