"""The ASGI application: Starlette routes behind the simulated Allegro edge."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from sandbox.allegro import admin, oauth, offer_admin, offer_rest, rest
from sandbox.allegro.encoding import EncodingCache
from sandbox.allegro.errors import errors_holder, not_found
from sandbox.allegro.gateway import Gateway
from sandbox.allegro.responses import vendor
from sandbox.allegro.state import SimulatorState


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return vendor(not_found(request.url.path), 404)
    return vendor(errors_holder("ERROR", f"HTTP {status}", path=request.url.path), status)


def build_app(state: SimulatorState) -> ASGIApp:
    app = Starlette(
        routes=[
            *rest.ROUTES,
            *offer_rest.ROUTES,
            *oauth.ROUTES,
            *admin.ROUTES,
            *offer_admin.ROUTES,
        ],
        exception_handlers={404: _http_error, 405: _http_error},
    )
    app.state.sim = state
    app.state.encoding = EncodingCache()  # used by this app's server thread only
    return Gateway(app, state)
