"""Allegro's edge as ASGI middleware: trace ids, the request log, rate limits and faults
(including a write that takes effect while its answer is lost).

Pure ASGI (not BaseHTTPMiddleware) so a hanging fault can watch for the client hanging up.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.allegro.errors import server_error
from sandbox.allegro.faults import PASS, Verdict
from sandbox.allegro.oauth import basic_credentials
from sandbox.allegro.responses import VENDOR_JSON, encode
from sandbox.allegro.state import SimulatorState

ADMIN_PREFIX = "/__sim"
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SECRET_PARAMS = frozenset(
    {"refresh_token", "access_token", "code", "device_code", "client_secret", "code_verifier"}
)


def is_rest(path: str) -> bool:
    """REST resources are everything but OAuth, the device-approval page and admin."""
    return not (
        path.startswith("/auth/")
        or path.startswith(ADMIN_PREFIX)
        or path.startswith("/skojarz-aplikacje")
    )


def redact(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "***" if k in _SECRET_PARAMS else v) for k, v in pairs])


class Gateway:
    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self._app = app
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(ADMIN_PREFIX):
            await self._app(scope, receive, send)
            return
        trace_id = secrets.token_hex(16)
        client = self._client_id(scope)
        recorded = [False]

        def record(status: int) -> None:
            # Logged before the response goes out: a client that got its answer must find
            # the request in the log (tests read it right after the call returns).
            if not recorded[0]:
                recorded[0] = True
                query = redact(scope.get("query_string", b"").decode("latin-1"))
                self._state.record(scope["method"], path, query, status, client)

        async def traced_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record(message["status"])
                message["headers"] = [*message.get("headers", []), (b"trace-id", trace_id.encode())]
            await send(message)

        try:
            verdict = self._gate(client, path)
            if verdict.delay:
                await asyncio.sleep(verdict.delay)
            if verdict.hang:
                await _hold(receive, verdict.hang)
                await _answer(traced_send, 504, None)
            elif verdict.status is not None:
                await _answer(traced_send, verdict.status, self._state.faults.retry_after_on_429)
            elif is_rest(path) and scope["method"] in _WRITES:
                await self._write(scope, receive, send, traced_send, record)
            else:
                await self._app(scope, receive, traced_send)
        finally:
            record(0)  # no response was started (the client went away)

    async def _write(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        traced_send: Send,
        record: Callable[[int], None],
    ) -> None:
        """Run a write; if it succeeded, maybe lose its answer (`FaultPlan.lose_next_writes`,
        `lost_write_rate`). The effect stays either way: that is the point of the fault."""
        held: list[Message] = []
        lost: list[str | None] = [None]

        async def holding_send(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                lost[0] = self._state.lose_write()
            if lost[0] is None:
                await traced_send(message)
            else:
                held.append(message)

        await self._app(scope, receive, holding_send)
        mode = lost[0]
        if mode == "error":
            await _answer(traced_send, 500, None)
        elif mode == "timeout":
            await _hold(receive, self._state.faults.hang_seconds)
            await _answer(traced_send, 504, None)
        elif mode == "drop":
            # A status line and a chunked body that never ends, then the connection closes
            # (uvicorn closes it when the app returns mid-body): the client gets no usable
            # answer, even for a 204 that would need no body. Logged as status 0.
            record(0)
            start = held[0]
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            status = 200 if start["status"] == 204 else start["status"]
            await send({"type": "http.response.start", "status": status, "headers": headers})

    def _gate(self, client: str | None, path: str) -> Verdict:
        """The per-minute limit and the faults, then a resource's own per-second cap."""
        if not is_rest(path):
            return PASS
        verdict = self._state.gate(client)
        passed = verdict.status is None and not verdict.hang
        if passed and not self._state.admit_resource(client, path):
            return Verdict(status=429, delay=verdict.delay)
        return verdict

    def _client_id(self, scope: Scope) -> str | None:
        """Who is calling: the bearer token's client, or the Basic-auth user on OAuth calls."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                text = value.decode("latin-1")
                scheme, _, credentials = text.partition(" ")
                if scheme.lower() == "bearer":
                    return self._state.client_for_token(credentials.strip())
                if scheme.lower() == "basic":
                    return basic_credentials(text)[0]
        return None


async def _hold(receive: Receive, seconds: float) -> None:
    """Sit on the request like a stuck backend; stop early if the client gives up."""

    async def until_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(until_disconnect(), timeout=seconds)


async def _answer(send: Send, status: int, retry_after: int | None) -> None:
    headers = [(b"content-type", VENDOR_JSON.encode())]
    if status == 429 and retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    body = encode(server_error(status))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
