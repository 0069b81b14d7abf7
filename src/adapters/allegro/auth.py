"""OAuth tokens of one seller account: loaded from the TokenStore, refreshed one at a time,
and persisted before they are used (Allegro rotates the refresh token on every use:
docs/allegro-api.md, OAuth)."""

from __future__ import annotations

import asyncio
import logging
import math
import warnings
from collections.abc import Awaitable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

from adapters.allegro.config import AllegroClientConfig
from adapters.allegro.errors import (
    CLIENT_HINT,
    CLIENT_REJECTED_CODES,
    LOGIN_HINT,
    ClientRejected,
    MalformedResponse,
)
from adapters.allegro.headers import USER_AGENT
from adapters.allegro.retry import BackoffPolicy
from adapters.allegro.timing import Sleep
from application.ports.clock import Clock
from application.ports.errors import AllegroAuthError, AllegroUnavailable
from application.ports.state import TokenPair, TokenStore

# authlib 1.8+ prefers `httpx2` and warns when it falls back to `httpx`; we pin `httpx` on
# purpose (respx patches it), so the fallback is expected. A test checks which one we get.
# authlib.deprecate installs an "always" filter when imported, so it must be loaded before
# the override below.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.integrations.httpx_client import OAuthError as OAuthError

logger = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
DEFAULT_EXPIRES_IN = 43199.0  # Allegro's access tokens live 12 h (docs/allegro-api.md, OAuth)
# Attempts to save a refreshed pair, and the pauses between them (a store restarting, a lock
# held briefly): 1 s, then 2 s. No jitter: one process saves, there is no crowd to spread.
SAVE_BACKOFF = BackoffPolicy(max_attempts=3, initial=1.0, cap=2.0, jitter=lambda ceiling: ceiling)
# How long closing waits for a refresh in flight to be saved (a token request plus the save).
LANDING_TIMEOUT = 30.0


def build_oauth_client(
    config: AllegroClientConfig, transport: httpx.AsyncBaseTransport
) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
        transport=transport,
        timeout=config.timeout_seconds,
        headers={"User-Agent": USER_AGENT},
        trust_env=False,  # the transport below applies the environment's proxy settings
    )


async def token_request(call: Awaitable[Any], what: str) -> Mapping[str, Any]:
    """Await an authlib token call, translating HTTP trouble; OAuthError passes through."""
    try:
        token = await call
    except OAuthError:
        raise
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        if status == 429 or status >= 500:
            raise AllegroUnavailable(f"{what}: token endpoint answered HTTP {status}") from exc
        raise AllegroAuthError(f"{what}: token endpoint answered HTTP {status}") from exc
    except httpx.RequestError as exc:
        raise AllegroUnavailable(
            f"{what}: token endpoint unreachable ({type(exc).__name__})"
        ) from exc
    except ValueError as exc:
        raise MalformedResponse(f"{what}: token endpoint answered without a JSON object") from exc
    if not isinstance(token, Mapping):
        raise MalformedResponse(f"{what}: token endpoint answered without a JSON object")
    return token


def token_pair(token: Mapping[str, Any], now: datetime, previous_refresh: str | None) -> TokenPair:
    access = token.get("access_token")
    refresh = token.get("refresh_token") or previous_refresh
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise MalformedResponse("token endpoint answered without an access or refresh token")
    scope = token.get("scope")
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_at=now + timedelta(seconds=_seconds(token.get("expires_in"))),
        scope=scope if isinstance(scope, str) else None,
    )


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return DEFAULT_EXPIRES_IN
    return seconds if math.isfinite(seconds) and seconds > 0 else DEFAULT_EXPIRES_IN


def oauth_failure(exc: OAuthError, what: str) -> AllegroAuthError:
    """Only the error code: Allegro's descriptions echo the token (`Invalid refresh token: …`).

    The fix depends on whose credential was refused: the application's (client id/secret,
    a configuration fix) or the seller's (the refresh token, a new login)."""
    code = str(exc.error)
    if code in CLIENT_REJECTED_CODES:
        return ClientRejected(
            f"{what}: Allegro refused the application's client credentials ({code}); {CLIENT_HINT}"
        )
    if code == "invalid_grant":
        return AllegroAuthError(
            f"{what}: Allegro refused the refresh token (invalid_grant: expired, revoked or "
            f"already rotated); {LOGIN_HINT}"
        )
    return AllegroAuthError(f"{what}: the token endpoint answered {code!r}; {LOGIN_HINT}")


class TokenManager:
    """The seller's token pair, refreshed one flight at a time.

    Invariant: once Allegro has answered a refresh, the pair it returned is the only one that
    works (the old refresh token is consumed), so it stays in `_pair` until the store accepts
    it, whatever fails or is cancelled in between. An unsaved pair is not handed out: each use
    first retries the save (the store must hold the pair before it is used).
    """

    def __init__(
        self,
        oauth: AsyncOAuth2Client,
        *,
        token_url: str,
        store: TokenStore,
        account: str,
        initial_refresh_token: str | None,
        clock: Clock,
        sleep: Sleep,
        landing_timeout: float = LANDING_TIMEOUT,
    ) -> None:
        self.oauth = oauth
        self._token_url = token_url
        self._store = store
        self._account = account
        self._initial_refresh_token = initial_refresh_token
        self._clock = clock
        self._sleep = sleep
        self._landing_timeout = landing_timeout
        self._pair: TokenPair | None = None
        self._unsaved = False  # `_pair` came from Allegro and the store does not hold it yet
        self._lock = asyncio.Lock()  # single flight: one refresh, everyone reuses its result
        self._flight: asyncio.Task[TokenPair] | None = None

    async def access_token(self) -> str:
        """A usable access token, refreshing first when it is missing or about to expire."""
        pair = self._pair
        if pair is not None and not self._unsaved and self._usable(pair):
            return pair.access_token
        return (await self._fly(rejected=None)).access_token

    async def refresh_rejected(self, rejected: str) -> str:
        """After a 401 for `rejected`: a newer token (someone else's refresh, or ours)."""
        return (await self._fly(rejected=rejected)).access_token

    async def expires_at(self) -> datetime | None:
        pair = await self._current()
        return pair.expires_at if pair is not None else None

    async def aclose(self) -> None:
        """Let a refresh in flight land in the store (bounded), then close the token client."""
        try:
            if self._flight is not None and not self._flight.done():
                await asyncio.wait({self._flight}, timeout=self._landing_timeout)
        finally:
            await self.oauth.aclose()

    async def _fly(self, rejected: str | None) -> TokenPair:
        """Run `_settle` as a task the caller's cancellation cannot reach: a refresh cancelled
        between Allegro's answer and the save would lose the only working pair."""
        async with self._lock:
            if self._flight is not None and not self._flight.done():
                await asyncio.wait({self._flight})  # an abandoned flight lands first
            self._flight = asyncio.create_task(self._settle(rejected))
            return await asyncio.shield(self._flight)

    async def _settle(self, rejected: str | None) -> TokenPair:
        """Save a kept pair first; then the current pair if it is still good, else refresh."""
        pair = await self._current()
        if pair is not None and self._unsaved:
            await self._save(pair)
        if pair is not None and pair.access_token != rejected and self._usable(pair):
            return pair
        return await self._refresh(pair, rejected)

    async def _current(self) -> TokenPair | None:
        if self._pair is None:
            self._pair = await self._store.load(self._account)
        return self._pair

    def _usable(self, pair: TokenPair) -> bool:
        return bool(pair.access_token) and pair.expires_at - self._clock.now() > REFRESH_MARGIN

    async def _refresh(self, pair: TokenPair | None, rejected: str | None) -> TokenPair:
        stored = await self._store.load(self._account)
        if stored is not None and (pair is None or stored.refresh_token != pair.refresh_token):
            # Another process (or `auth login`) stored newer tokens: take them over.
            self._pair = pair = stored
            if stored.access_token != rejected and self._usable(stored):
                return stored
        refresh_token = pair.refresh_token if pair is not None else self._initial_refresh_token
        if not refresh_token:
            raise AllegroAuthError(
                f"no Allegro tokens stored for account {self._account!r}; {LOGIN_HINT}"
            )
        try:
            token = await token_request(
                self.oauth.refresh_token(self._token_url, refresh_token=refresh_token),
                "token refresh",
            )
        except OAuthError as exc:
            logger.error(
                "allegro token refresh refused",
                extra={"account": self._account, "oauth_error": str(exc.error)},
            )
            raise oauth_failure(exc, "token refresh") from None
        new = token_pair(token, self._clock.now(), refresh_token)
        self._pair, self._unsaved = new, True  # `refresh_token` is consumed: keep `new`
        await self._save(new)  # durable before anyone uses it
        logger.info(
            "allegro tokens refreshed",
            extra={"account": self._account, "expires_at": new.expires_at.isoformat()},
        )
        return new

    async def _save(self, pair: TokenPair) -> None:
        """Store `pair`, retrying as `SAVE_BACKOFF` says; the last failure propagates and the
        pair stays in memory, unsaved, for the next use to try again."""
        attempt = 1
        while True:
            try:
                await self._store.save(self._account, pair)
                break
            except Exception as exc:
                logger.warning(
                    "allegro tokens not saved, keeping them in memory",
                    # The type only: a store's message might quote the row it failed to write.
                    extra={
                        "account": self._account,
                        "attempt": attempt,
                        "error": type(exc).__name__,
                    },
                )
                if attempt >= SAVE_BACKOFF.max_attempts:
                    raise
                await self._sleep(SAVE_BACKOFF.delay(attempt))
                attempt += 1
        if pair is self._pair:
            self._unsaved = False
