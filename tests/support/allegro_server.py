"""Allegro's HTTP endpoints, faked below the adapter for httpx's `MockTransport`: the OAuth
token and device endpoints and scripted REST replies. The simulator (`sandbox.allegro`) is the
faithful copy over real HTTP; this one lets a unit test script one reply at a time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx

VENDOR = "application/vnd.allegro.public.v1+json"
API_URL = "https://api.allegro.test"
AUTH_URL = "https://allegro.test/auth/oauth"

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def vendor_json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": VENDOR, **(headers or {})},
    )


def allegro_error(status: int, code: str, message: str) -> httpx.Response:
    error = {"code": code, "message": message, "details": None, "path": None}
    return vendor_json(status, {"errors": [{**error, "userMessage": message, "metadata": {}}]})


class FakeAllegroServer:
    """Just enough Allegro for MockTransport: a rotating token endpoint, bearer checks on the
    REST API, and per-path scripted replies (the last reply of a script repeats)."""

    def __init__(self) -> None:
        self.access_token = "access-0"
        self.refresh_token = "refresh-0"
        self.issued = 0
        self.expires_in: Any = 43199
        self.requests: list[httpx.Request] = []
        self.token_replies: list[Reply] = []
        self.device_replies: list[Reply] = []
        self.on_api_request: Callable[[httpx.Request], None] | None = None
        self._scripts: dict[str, list[Reply]] = {}

    def script(self, path: str, *replies: Reply) -> None:
        self._scripts.setdefault(path, []).extend(replies)

    @property
    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == httpx.URL(API_URL).host]

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/auth/oauth/token"]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        await asyncio.sleep(0)  # let concurrent callers interleave, as over a network
        if request.url.path == "/auth/oauth/token":
            return self._reply(self.token_replies, request) or self._refresh(request)
        if request.url.path == "/auth/oauth/device":
            reply = self._reply(self.device_replies, request)
            assert reply is not None, "no device reply scripted"
            return reply
        if self.on_api_request is not None:
            self.on_api_request(request)
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return vendor_json(
                401, {"error": "invalid_token", "error_description": "Access token expired: x"}
            )
        script = self._scripts.get(request.url.path)
        assert script, f"unexpected request {request.method} {request.url}"
        reply = self._reply(script, request, keep_last=True)
        assert reply is not None
        return reply

    def _reply(
        self, replies: list[Reply], request: httpx.Request, *, keep_last: bool = False
    ) -> httpx.Response | None:
        if not replies:
            return None
        reply = replies[0] if keep_last and len(replies) == 1 else replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply

    def _refresh(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != (
            self.refresh_token
        ):
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "x"})
        self.issued += 1
        self.access_token = f"access-{self.issued}"
        self.refresh_token = f"refresh-{self.issued}"
        return httpx.Response(
            200,
            json={
                "access_token": self.access_token,
                "token_type": "bearer",
                "refresh_token": self.refresh_token,
                "expires_in": self.expires_in,
                "scope": "allegro:api:orders:read",
                "jti": "abc",
            },
        )
