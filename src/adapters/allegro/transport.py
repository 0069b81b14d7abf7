"""The HTTP transport every request of one Allegro client goes through.

It sits below both httpx clients (the REST API one and authlib's token client), so the
token bucket, the 429 block, retries and metrics cover the token endpoint too.
"""

from __future__ import annotations

import logging

import httpx

from adapters.allegro.budget_share import ShareLimiter
from adapters.allegro.endpoint_limit import WindowLimiter
from adapters.allegro.observer import RequestObserver
from adapters.allegro.rate_limit import TokenBucket
from adapters.allegro.retry import (
    RETRYABLE_ERRORS,
    BackoffPolicy,
    is_retryable_status,
    retry_after_seconds,
)
from adapters.allegro.timing import Timing

logger = logging.getLogger(__name__)

# Request extension naming the endpoint's path template for metrics and logs
# (e.g. "/order/checkout-forms/{id}"); requests without it are labelled by their path.
ENDPOINT_EXTENSION = "openoms_allegro.endpoint"
# Request extension: False for a request that must not be sent twice once it may have been
# applied (`POST .../shipments`: Allegro has no idempotency key, docs/allegro-api.md, Writing
# back to orders). Such a request is repeated only when Allegro cannot have applied it: a 429
# (refused before processing) or a connection that never opened (nothing was sent). A
# timeout, a 5xx or a lost answer reach the caller as an outage instead, and the caller
# looks at the order before it sends again. Absent: True.
REPEATABLE_EXTENSION = "openoms_allegro.repeatable"
# Request extension: a `WindowLimiter` for a resource with its own cap, taken on every attempt.
LIMITER_EXTENSION = "openoms_allegro.limiter"
# Request extension: the `ShareLimiter` of the request's class (import or commands) inside the
# shared budget (budget_share.py), taken on every attempt together with the bucket's token.
SHARE_EXTENSION = "openoms_allegro.share"

# Failures that happen before any byte of the request leaves: safe to repeat any request.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


class ResilientTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        bucket: TokenBucket,
        backoff: BackoffPolicy,
        block_seconds: float,
        retry_after_max: float,
        observer: RequestObserver,
        timing: Timing,
        owns_inner: bool = True,
    ) -> None:
        self._inner = inner
        self._bucket = bucket
        self._backoff = backoff
        self._block_seconds = block_seconds
        self._retry_after_max = retry_after_max
        self._observer = observer
        self._timing = timing
        self._owns_inner = owns_inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = str(request.extensions.pop(ENDPOINT_EXTENSION, None) or request.url.path)
        repeatable = request.extensions.pop(REPEATABLE_EXTENSION, True) is not False
        limiter = request.extensions.pop(LIMITER_EXTENSION, None)
        share = request.extensions.pop(SHARE_EXTENSION, None)
        attempt = 0
        while True:
            attempt += 1
            if isinstance(share, ShareLimiter):
                async with share.turn():  # the class's cap, and its turn at the bucket
                    await self._bucket.acquire()
            else:
                await self._bucket.acquire()
            if isinstance(limiter, WindowLimiter):
                await limiter.acquire()
            started = self._timing.monotonic()
            try:
                response = await self._inner.handle_async_request(request)
            except RETRYABLE_ERRORS as exc:
                self._observe(endpoint, _error_kind(exc), started)
                if attempt >= self._backoff.max_attempts or not (
                    repeatable or isinstance(exc, NOT_SENT_ERRORS)
                ):
                    raise
                await self._back_off(endpoint, attempt, _error_kind(exc))
                continue
            status = response.status_code
            self._observe(endpoint, status, started)
            if status == 429:
                self._block(endpoint, response)
            if (
                not is_retryable_status(status)
                or attempt >= self._backoff.max_attempts
                or (not repeatable and status != 429)
            ):
                return response
            await response.aclose()
            if status != 429:  # a 429 waits in the bucket's block, with everyone else
                await self._back_off(endpoint, attempt, status)

    async def aclose(self) -> None:
        if self._owns_inner:
            await self._inner.aclose()

    def _observe(self, endpoint: str, status: int | str, started: float) -> None:
        self._observer.request(endpoint, status, self._timing.monotonic() - started)

    def _block(self, endpoint: str, response: httpx.Response) -> None:
        headers = response.headers
        asked = retry_after_seconds(
            headers.get("Retry-After"), self._timing.clock.now(), headers.get("Date")
        )
        self._bucket.block_for(
            self._block_seconds if asked is None else self._capped(endpoint, asked)
        )

    def _capped(self, endpoint: str, asked: float) -> float:
        """The wait a `Retry-After` asked for, at most the cap: one absurd header (1e9 s, a date
        years ahead) must not silently stop every request of the client."""
        if asked <= self._retry_after_max:
            return asked
        logger.warning(
            "allegro Retry-After exceeds the cap, waiting the cap instead",
            extra={
                "endpoint": endpoint,
                "retry_after_seconds": asked,
                "cap_seconds": self._retry_after_max,
            },
        )
        return self._retry_after_max

    async def _back_off(self, endpoint: str, attempt: int, status: int | str) -> None:
        delay = self._backoff.delay(attempt)
        logger.warning(
            "allegro request failed, retrying",
            extra={"endpoint": endpoint, "status": status, "attempt": attempt, "delay": delay},
        )
        await self._timing.sleep(delay)


class ClientTransport(httpx.AsyncBaseTransport):
    """Adapts an httpx client to a transport, so that proxies and certificates from the
    environment still apply while the outer clients route every request through us."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._client.send(request, stream=True)

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_kind(exc: Exception) -> str:
    return "timeout" if isinstance(exc, httpx.TimeoutException) else "network_error"
