"""Authorised calls to Allegro's REST API, with Allegro's failures turned into port errors."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from adapters.allegro.auth import TokenManager
from adapters.allegro.budget_share import ShareLimiter
from adapters.allegro.config import DEFAULT_MAX_BODY_BYTES
from adapters.allegro.endpoint_limit import WindowLimiter
from adapters.allegro.errors import LOGIN_HINT, MalformedResponse, OversizeBody
from adapters.allegro.headers import VENDOR_MEDIA_TYPE
from adapters.allegro.json_text import loads
from adapters.allegro.translate import validation_reason
from adapters.allegro.transport import (
    ENDPOINT_EXTENSION,
    LIMITER_EXTENSION,
    REPEATABLE_EXTENSION,
    SHARE_EXTENSION,
)
from adapters.allegro.wire import ErrorsHolderWire, OAuthErrorWire
from application.ports.errors import AllegroAuthError, AllegroRejected, AllegroUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

# JWT-looking runs (Allegro's tokens are JWTs); error descriptions may echo them.
_JWT = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


OVERSIZE_HEAD_BYTES = 4096  # what is kept of an oversize body (for its dead letter)
# Allegro's own words in an error are kept this short: they end up in logs and in command
# results, and an error body may be as large as any other.
ERROR_DETAIL_CHARS = 300
ERROR_CODE_CHARS = 100


class AllegroApi:
    def __init__(
        self,
        client: httpx.AsyncClient,
        tokens: TokenManager,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        *,
        share: ShareLimiter | None = None,
    ) -> None:
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        self._client = client
        self._tokens = tokens
        self._max_body_bytes = max_body_bytes
        self._share = share

    def for_class(self, share: ShareLimiter) -> AllegroApi:
        """The same API (client, tokens, limits) whose every request counts against `share`,
        one request class's part of the shared budget (budget_share.py)."""
        return AllegroApi(self._client, self._tokens, self._max_body_bytes, share=share)

    async def request(
        self,
        method: str,
        endpoint: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        repeatable: bool = True,
        limiter: WindowLimiter | None = None,
    ) -> httpx.Response:
        """A 2xx response (body read), or a port error: 401 gets one refresh and one retry
        (a 401 was refused before anything was applied, so even a request that is not
        `repeatable` is sent again). `repeatable=False`: the transport repeats the request
        only where Allegro cannot have applied it (see transport.REPEATABLE_EXTENSION).
        `limiter`: the resource's own cap, on top of the shared budget (and of this view's
        request class, if any: `for_class`)."""
        extensions: dict[str, Any] = {ENDPOINT_EXTENSION: endpoint}
        if not repeatable:
            extensions[REPEATABLE_EXTENSION] = False
        if limiter is not None:
            extensions[LIMITER_EXTENSION] = limiter
        if self._share is not None:
            extensions[SHARE_EXTENSION] = self._share
        token = await self._tokens.access_token()
        response = await self._send(method, path, params, json_body, token, extensions)
        if response.status_code == 401:
            logger.info("allegro access token rejected, refreshing", extra={"endpoint": endpoint})
            token = await self._tokens.refresh_rejected(token)
            response = await self._send(method, path, params, json_body, token, extensions)
            if response.status_code == 401:
                raise AllegroAuthError(
                    f"Allegro {endpoint}: a freshly refreshed access token was rejected "
                    f"({describe_error(response, redact=(token,))}); {LOGIN_HINT}"
                )
        raise_for_status(response, endpoint, retried=repeatable)
        return response

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        token: str,
        extensions: Mapping[str, Any],
    ) -> httpx.Response:
        endpoint = extensions[ENDPOINT_EXTENSION]
        headers = {"Authorization": f"Bearer {token}"}
        content: bytes | None = None
        if json_body is not None:
            headers["Content-Type"] = VENDOR_MEDIA_TYPE
            content = json.dumps(json_body, ensure_ascii=False).encode()
        request = self._client.build_request(
            method,
            path,
            params=params,
            headers=headers,
            content=content,
            extensions=dict(extensions),  # the transport pops its own: a copy per attempt
        )
        try:
            response = await self._client.send(request, stream=True)
            try:
                body, complete = await _read_at_most(response, self._max_body_bytes)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise AllegroUnavailable(f"Allegro {endpoint}: timed out") from exc
        except httpx.DecodingError as exc:  # a body that does not decompress: not an outage
            raise MalformedResponse(
                f"Allegro {endpoint}: body cannot be decoded ({type(exc).__name__})"
            ) from exc
        except httpx.RequestError as exc:
            raise AllegroUnavailable(
                f"Allegro {endpoint}: request failed ({type(exc).__name__})"
            ) from exc
        if not complete and response.is_success:  # `body` holds at most its head then
            raise OversizeBody(
                f"Allegro {endpoint}: HTTP {response.status_code} body larger than "
                f"{self._max_body_bytes} bytes (ALLEGRO_MAX_BODY_BYTES)",
                head=body,
            )
        return _unbound(response, body)


async def _read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the (decompressed) body, and whether that was all of it.
    A body declared longer than the limit is refused once its head is read (for the dead
    letter); the decoded size is what counts, so a compressed body cannot expand past the
    limit either."""
    declared = response.headers.get("content-length", "")
    refused = declared.isdigit() and len(declared) < 20 and int(declared) > limit
    keep = min(limit, OVERSIZE_HEAD_BYTES) if refused else limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > keep:
            chunks.append(chunk[: len(chunk) - (size - keep)])
            return b"".join(chunks), False
        chunks.append(chunk)
    return b"".join(chunks), not refused


def _unbound(response: httpx.Response, body: bytes) -> httpx.Response:
    """The response with its body as a plain stream, as if read by `Response.read()`. httpx
    binds every streamed response to its stream, a reference cycle: the body (a whole list
    page) would then wait for the cyclic garbage collector instead of going as soon as it
    is parsed."""
    response._content = body  # what `Response.read()` sets; the decoded body
    response.stream = httpx.ByteStream(body)
    return response


def validate_body(adapter: TypeAdapter[T], response: httpx.Response, endpoint: str) -> T:
    """A body validated by pydantic-core straight from its bytes (no `json` decoding first);
    one that is not JSON or not of the expected shape is a `MalformedResponse` saying which."""
    try:
        return adapter.validate_json(response.content)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            decode_json(response, endpoint)  # says "not JSON" with the content type
        raise MalformedResponse(
            f"Allegro {endpoint}: unexpected body ({validation_reason(exc)})"
        ) from exc
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:  # a hostile body
        raise MalformedResponse(
            f"Allegro {endpoint}: unreadable body ({type(exc).__name__})"
        ) from exc


def decode_json(response: httpx.Response, endpoint: str) -> Any:
    try:
        return loads(response.content)
    except ValueError as exc:
        raise MalformedResponse(
            f"Allegro {endpoint}: HTTP {response.status_code} body is not JSON "
            f"(content-type {response.headers.get('content-type')!r})"
        ) from exc


def raise_for_status(response: httpx.Response, endpoint: str, *, retried: bool = True) -> None:
    """Raise the port error for a non-2xx response, chained to httpx's HTTPStatusError.
    `retried=False`: the request was not repeated after a 5xx (it may have been applied)."""
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        status = response.status_code
        where = f"Allegro {endpoint}: HTTP {status}"
        if status == 429:
            raise AllegroUnavailable(f"{where} (rate limited), retries exhausted") from exc
        if status >= 500:
            detail = _bounded(describe_error(response))
            outcome = "retries exhausted" if retried else "not repeated (it may have been applied)"
            raise AllegroUnavailable(f"{where} ({detail}), {outcome}") from exc
        detail = _bounded(describe_error(response))
        raise AllegroRejected(f"{where} ({detail})", status, error_code(response)) from exc


def error_code(response: httpx.Response) -> str | None:
    """Allegro's machine code for the error (`errors[0].code`, docs/allegro-api.md, Errors
    and rate limits), printable and bounded; None when the body gives none."""
    try:
        holder = ErrorsHolderWire.model_validate(loads(response.content))
    except (ValueError, ValidationError):
        return None
    if not holder.errors or not holder.errors[0].code:
        return None
    code = "".join(c for c in holder.errors[0].code if c.isprintable())
    return code[:ERROR_CODE_CHARS] or None


def _bounded(detail: str) -> str:
    return detail if len(detail) <= ERROR_DETAIL_CHARS else detail[: ERROR_DETAIL_CHARS - 3] + "..."


def describe_error(response: httpx.Response, redact: Collection[str] = ()) -> str:
    """Allegro's `errors[0].code: message` (ErrorsHolder) or `error: description` (AuthError);
    descriptions lose JWT-looking runs and the `redact` values (they may echo our token)."""
    try:
        body = loads(response.content)
    except ValueError:
        return f"body is not JSON, content-type {response.headers.get('content-type')!r}"
    try:
        holder = ErrorsHolderWire.model_validate(body)
    except ValidationError:
        holder = None
    if holder is not None and holder.errors:
        first = holder.errors[0]
        message = _JWT.sub("[token]", first.message or first.user_message or "")
        return f"{first.code or 'unknown code'}: {message}"
    try:
        oauth = OAuthErrorWire.model_validate(body)
    except ValidationError:
        return "no error details"
    description = _JWT.sub("[token]", oauth.error_description or "")
    for secret in redact:
        description = description.replace(secret, "[token]")
    return f"{oauth.error}: {description}" if description else oauth.error
