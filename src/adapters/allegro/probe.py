"""Bounded calls for the operator's tools (`status`, `check`): one attempt, a short timeout,
and nothing that changes the account's tokens.

The service's client retries with backoff and waits up to ALLEGRO_TIMEOUT_SECONDS per
request (199 s in all with Allegro hung): right for an importer, wrong for a tool asked
during an incident. A probe client makes one attempt per request with `timeout` seconds for
each phase (connect, write, read), and holds only the stored access token (never the refresh
token): a 401 cannot make it refresh, so it never consumes Allegro's single-use, rotating
refresh token under the feet of the service.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
import warnings

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

from adapters.allegro.api import describe_error
from adapters.allegro.auth import build_oauth_client, token_request
from adapters.allegro.client import (
    AllegroClient,
    build_allegro_client,
    make_timing,
    transport_stack,
)
from adapters.allegro.config import AllegroClientConfig
from adapters.allegro.errors import CLIENT_HINT, CLIENT_REJECTED_CODES, ClientRejected
from adapters.allegro.observer import NullObserver
from application.ports.errors import AllegroRejected, StateStoreError
from application.ports.state import TokenPair, TokenStore

with warnings.catch_warnings():  # as in adapters/allegro/auth.py
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuthError

PROBE_TIMEOUT_SECONDS = 2.0  # for each phase of a request: connect, write, read


def probe_config(config: AllegroClientConfig, timeout: float) -> AllegroClientConfig:
    """`config` for one attempt per request, `timeout` seconds per phase, no refresh token."""
    return dataclasses.replace(
        config, max_attempts=1, timeout_seconds=timeout, initial_refresh_token=None
    )


class AccessOnlyTokens(TokenStore):
    """The stored access token without its refresh token: a client given this store can
    call Allegro but can never refresh, so it never rotates the account's tokens."""

    def __init__(self, pair: TokenPair) -> None:
        self._pair = TokenPair(pair.access_token, "", pair.expires_at, pair.scope)

    async def load(self, account: str) -> TokenPair | None:
        return self._pair

    async def save(self, account: str, pair: TokenPair) -> None:
        raise StateStoreError("a probe never stores tokens")


def probe_client(
    config: AllegroClientConfig,
    pair: TokenPair,
    *,
    timeout: float = PROBE_TIMEOUT_SECONDS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AllegroClient:
    """A client calling with `pair`'s access token only (see the module docstring)."""
    return build_allegro_client(
        probe_config(config, timeout), AccessOnlyTokens(pair), transport=transport
    )


async def check_client_credentials(
    config: AllegroClientConfig,
    *,
    request_timeout: float = PROBE_TIMEOUT_SECONDS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Asks the token endpoint for an application token (`client_credentials` grant): proves
    that Allegro's OAuth server answers and accepts ALLEGRO_CLIENT_ID/ALLEGRO_CLIENT_SECRET,
    without touching the seller's tokens. The token obtained is dropped.

    Raises AllegroAuthError (credentials refused), AllegroUnavailable, MalformedResponse."""
    config = probe_config(config, request_timeout)
    _, resilient = transport_stack(
        config,
        observer=NullObserver(),
        transport=transport,
        timing=make_timing(None, None, None, None),
    )
    oauth = build_oauth_client(config, resilient())
    try:
        try:
            await token_request(
                oauth.fetch_token(config.token_url, grant_type="client_credentials"),
                "client credentials",
            )
        except OAuthError as exc:
            code = str(exc.error)
            # The same codes and words as the service's own refresh (errors.py): Allegro
            # answers a wrong id or secret with either code (docs/allegro-api.md, OAuth).
            if code in CLIENT_REJECTED_CODES or code == "unauthorized_client":
                raise ClientRejected(
                    f"Allegro refused the application's client credentials ({code}); {CLIENT_HINT}"
                ) from None
            raise AllegroRejected(f"the token endpoint answered {code!r}", 400) from None
    finally:
        await oauth.aclose()


def describe_failure(exc: BaseException, timeout: float) -> str | None:
    """What an operator needs to know when a probe could not reach Allegro, in a few words
    (`no answer within 3 s`, `unreachable (connection refused)`); None when Allegro did
    answer (with an error status, a malformed body...): the port error says that itself.
    A TimeoutError is the caller's overall deadline (`timeout` is then that deadline)."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    causes = _chain(exc)
    for cause in causes:
        if isinstance(cause, httpx.ConnectTimeout):
            return f"unreachable (no connection within {timeout:g} s)"
        if isinstance(cause, httpx.TimeoutException):
            return f"no answer within {timeout:g} s"
        if isinstance(cause, ConnectionRefusedError):
            return "unreachable (connection refused)"
        if isinstance(cause, socket.gaierror):
            return "unreachable (host name not resolved)"
        if isinstance(cause, ssl.SSLError):
            return f"unreachable (TLS: {cause.reason or cause})"
    for cause in causes:
        if isinstance(cause, httpx.TransportError):
            return f"unreachable ({type(cause).__name__}: {cause})"
    return None


def describe_answer(exc: BaseException) -> str:
    """What Allegro answered to a probe's request when it answered with an error (the case
    `describe_failure` leaves): the status and Allegro's own error, read from the response.
    Not the port error's message: api.raise_for_status words that for the service's client,
    which retried ("..., retries exhausted"), and a probe made one attempt."""
    for cause in _chain(exc):
        if isinstance(cause, httpx.HTTPStatusError):
            request, response = cause.request, cause.response
            return (
                f"Allegro {request.method} {request.url.path} answered HTTP "
                f"{response.status_code} ({describe_error(response)})"
            )
    return str(exc)  # a body it could not use: the message says which and why


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
