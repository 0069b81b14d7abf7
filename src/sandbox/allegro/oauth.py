"""OAuth endpoints under /auth/oauth, plus the page where the seller approves a device."""

from __future__ import annotations

import base64
import binascii
import html
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sandbox.allegro.responses import plain
from sandbox.allegro.state import SimulatorState
from sandbox.allegro.tokens import OAuthError

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
VERIFICATION_PATH = "/skojarz-aplikacje"
_NO_STORE = {"cache-control": "no-store"}


def basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    """(client_id, secret) from `Basic base64(id:secret)`; (None, None) when absent or garbled."""
    if not header:
        return None, None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else (None, None)


async def _params(request: Request) -> dict[str, str]:
    """Form body merged over the query string: clients send the parameters either way."""
    params = dict(request.query_params)
    body = (await request.body()).decode("utf-8", "replace")
    params.update(parse_qsl(body, keep_blank_values=True))
    return params


def _sim(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.sim
    return state


async def token(request: Request) -> Response:
    state = _sim(request)
    params = await _params(request)
    grant_type = params.get("grant_type", "")
    client_id, secret = basic_credentials(request.headers.get("authorization"))
    with state.locked():
        now = state.clock.wall()
        try:
            client = state.auth.check_client(client_id, secret)
            if grant_type == "refresh_token":
                body = state.auth.refresh(client, params.get("refresh_token"), now)
            elif grant_type == DEVICE_GRANT:
                body = state.auth.poll_device(client, params.get("device_code"), now)
            elif grant_type == "client_credentials":
                body = state.auth.client_credentials(client, now)
            else:
                raise OAuthError(
                    400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}"
                )
        except OAuthError as exc:
            return plain(exc.body(), exc.status, _NO_STORE)
    return plain(body, 200, _NO_STORE)


async def device(request: Request) -> Response:
    state = _sim(request)
    params = await _params(request)
    client_id, secret = basic_credentials(request.headers.get("authorization"))
    with state.locked():
        try:
            client = state.auth.check_client(client_id, secret)
            if params.get("client_id", client) != client:
                raise OAuthError(400, "invalid_request", "client_id does not match")
            # `scope` (optional, space-separated) narrows the token (docs/allegro-api.md, OAuth).
            scopes = (params.get("scope") or "").split()
            device_code, grant = state.auth.start_device(client, state.clock.wall(), scopes)
        except OAuthError as exc:
            return plain(exc.body(), exc.status, _NO_STORE)
    uri = str(request.base_url).rstrip("/") + VERIFICATION_PATH
    return plain(
        {
            "device_code": device_code,
            "user_code": grant.user_code,
            "verification_uri": uri,
            "verification_uri_complete": f"{uri}?code={grant.user_code}",
            "expires_in": state.config.device_code_ttl,
            "interval": int(grant.interval),
        },
        200,
        _NO_STORE,
    )


_PAGE = """<!doctype html><meta charset="utf-8"><title>Allegro simulator: connect an app</title>
<h1>Connect an application</h1><p>{message}</p>
<form method="post"><input name="code" value="{code}" size="12">
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button></form>"""


async def verification_page(request: Request) -> Response:
    """Stands in for allegro.pl/skojarz-aplikacje: a human (or a test) approves the code."""
    code = request.query_params.get("code", "")
    message = "Enter the code shown by the application."
    if request.method == "POST":
        params = await _params(request)
        code = params.get("code", "")
        approve = params.get("decision") == "approve"
        try:
            state = _sim(request)
            state.approve_device(code) if approve else state.deny_device(code)
            message = "Approved. You can close this page." if approve else "Denied."
        except KeyError:
            message = "Unknown or already used code."
    return HTMLResponse(_PAGE.format(message=message, code=html.escape(code)))


ROUTES = [
    Route("/auth/oauth/token", token, methods=["POST"]),
    Route("/auth/oauth/device", device, methods=["POST"]),
    Route(VERIFICATION_PATH, verification_page, methods=["GET", "POST"]),
]
