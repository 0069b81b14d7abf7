"""OAuth device flow for `openoms-allegro auth login`: show a code, wait for the seller."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

import httpx
from pydantic import ValidationError

from adapters.allegro.api import describe_error
from adapters.allegro.auth import OAuthError, build_oauth_client, token_pair, token_request
from adapters.allegro.client import make_timing, transport_stack
from adapters.allegro.config import AllegroClientConfig
from adapters.allegro.errors import (
    CLIENT_HINT,
    CLIENT_REJECTED_CODES,
    ClientRejected,
    DeviceFlowError,
    MalformedResponse,
)
from adapters.allegro.observer import NullObserver, RequestObserver
from adapters.allegro.timing import Jitter, Monotonic, Sleep
from adapters.allegro.translate import validation_reason
from adapters.allegro.wire import DeviceAuthorizationWire
from application.ports.clock import Clock
from application.ports.errors import AllegroAuthError, AllegroUnavailable
from application.ports.state import TokenPair, TokenStore

logger = logging.getLogger(__name__)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0
SLOW_DOWN_STEP = 5.0  # add 5 s to the interval on every slow_down (docs/allegro-api.md, OAuth)
_AGAIN = "run `openoms-allegro auth login` again"


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    interval: float
    expires_in: float


class DeviceFlow:
    def __init__(
        self,
        config: AllegroClientConfig,
        token_store: TokenStore,
        *,
        observer: RequestObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        monotonic: Monotonic | None = None,
        sleep: Sleep | None = None,
        jitter: Jitter | None = None,
    ) -> None:
        self._config = config
        self._store = token_store
        self._timing = make_timing(clock, monotonic, sleep, jitter)
        _, resilient = transport_stack(
            config, observer=observer or NullObserver(), transport=transport, timing=self._timing
        )
        self._oauth = build_oauth_client(config, resilient())

    async def start(self) -> DeviceAuthorization:
        """Ask Allegro for a user code; show `verification_uri_complete` to the seller."""
        try:
            response = await self._oauth.post(
                self._config.device_url,
                data={"client_id": self._config.client_id},
                auth=httpx.BasicAuth(self._config.client_id, self._config.client_secret),
            )
        except httpx.RequestError as exc:
            raise AllegroUnavailable(
                f"device authorisation: Allegro unreachable ({type(exc).__name__})"
            ) from exc
        _check_start_status(response)
        try:
            wire = DeviceAuthorizationWire.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            reason = validation_reason(exc) if isinstance(exc, ValidationError) else "not JSON"
            raise MalformedResponse(f"device authorisation: unexpected body ({reason})") from exc
        return DeviceAuthorization(
            device_code=wire.device_code,
            user_code=wire.user_code,
            verification_uri=wire.verification_uri,
            verification_uri_complete=wire.verification_uri_complete,
            interval=wire.interval if wire.interval and wire.interval > 0 else DEFAULT_INTERVAL,
            expires_in=wire.expires_in,
        )

    async def poll_until_done(
        self,
        authorization: DeviceAuthorization,
        on_wait: Callable[[float], None] | None = None,
    ) -> TokenPair:
        """Poll until the seller confirms; save the tokens in the TokenStore and return them.

        `on_wait(seconds)` is called before each wait (e.g. to refresh a progress line).
        Raises DeviceFlowError (reason denied / expired / failed) or AllegroUnavailable.
        """
        clock = self._timing.clock
        deadline = clock.now() + timedelta(seconds=authorization.expires_in)
        interval = authorization.interval
        while True:
            if on_wait is not None:
                on_wait(interval)
            await self._timing.sleep(interval)
            if clock.now() >= deadline:
                raise _flow_error("expired_token")
            try:
                token = await token_request(
                    self._oauth.fetch_token(
                        self._config.token_url,
                        grant_type=DEVICE_GRANT,
                        device_code=authorization.device_code,
                    ),
                    "device authorisation",
                )
            except OAuthError as exc:
                code = str(exc.error)
                if code == "authorization_pending":
                    continue
                if code == "slow_down":
                    interval += SLOW_DOWN_STEP
                    logger.info("allegro asked to poll slower", extra={"interval": interval})
                    continue
                raise _flow_error(code) from None
            pair = token_pair(token, clock.now(), None)
            await self._store.save(self._config.account, pair)
            logger.info(
                "allegro device flow completed",
                extra={"account": self._config.account, "expires_at": pair.expires_at.isoformat()},
            )
            return pair

    async def aclose(self) -> None:
        await self._oauth.aclose()

    async def __aenter__(self) -> DeviceFlow:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _check_start_status(response: httpx.Response) -> None:
    status = response.status_code
    if response.is_success:
        return
    detail = describe_error(response)
    if status == 429 or status >= 500:
        raise AllegroUnavailable(f"device authorisation: HTTP {status} ({detail})")
    if status == 401:  # the application's credentials (docs/allegro-api.md, OAuth)
        raise ClientRejected(f"device authorisation refused: HTTP 401 ({detail}); {CLIENT_HINT}")
    raise AllegroAuthError(
        f"device authorisation refused: HTTP {status} ({detail}); check the client id and "
        "secret, and that the application is registered for the device flow"
    )


def _flow_error(code: str) -> DeviceFlowError:
    if code == "access_denied":
        return DeviceFlowError("denied", f"the seller refused access; {_AGAIN}")
    if code == "expired_token":
        return DeviceFlowError("expired", f"the code expired before it was confirmed; {_AGAIN}")
    if code in CLIENT_REJECTED_CODES:
        return DeviceFlowError(
            "failed",
            f"Allegro refused the application's client credentials ({code}); {CLIENT_HINT}, "
            f"then {_AGAIN}",
        )
    return DeviceFlowError(
        "failed",
        f"device authorisation failed ({code}): the code is wrong, used or expired; {_AGAIN}",
    )
