"""Adapter-specific refinements of the port errors (callers may catch the port classes)."""

from __future__ import annotations

from application.ports.errors import AllegroAuthError, AllegroUnavailable, MalformedBody

LOGIN_HINT = "run `openoms-allegro auth login` to authorise the seller account again"
# The token endpoint's answers to a wrong client id or secret (docs/allegro-api.md, OAuth:
# `invalid_client` for bad credentials, `unauthorized` for missing or unreadable client
# authentication). Logging in again cannot help: the application's credentials are wrong.
CLIENT_REJECTED_CODES = frozenset({"invalid_client", "unauthorized"})
CLIENT_HINT = (
    "check ALLEGRO_CLIENT_ID and ALLEGRO_CLIENT_SECRET (the client id and secret of the "
    "application registered at Allegro)"
)


class MalformedResponse(MalformedBody, AllegroUnavailable):
    """A 2xx body that is not the JSON we expect (a glitch or an API change, not a bad item)."""


class OversizeBody(MalformedResponse):
    """A 2xx body larger than the client accepts; `head` is what was read of it."""

    def __init__(self, message: str, head: bytes = b"") -> None:
        super().__init__(message)
        self.head = head


class ClientRejected(AllegroAuthError):
    """The token endpoint refused the application's own credentials (client id/secret)."""


class DeviceFlowError(AllegroAuthError):
    """The device flow ended without tokens: `reason` is denied, expired or failed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
