"""Adapter-specific refinements of the port errors (callers may catch the port classes)."""

from __future__ import annotations

from application.ports.errors import AllegroAuthError, AllegroUnavailable, MalformedBody

LOGIN_HINT = "run `openoms-allegro auth login` to authorise the seller account again"


class MalformedResponse(MalformedBody, AllegroUnavailable):
    """A 2xx body that is not the JSON we expect (a glitch or an API change, not a bad item)."""


class OversizeBody(MalformedResponse):
    """A 2xx body larger than the client accepts; `head` is what was read of it."""

    def __init__(self, message: str, head: bytes = b"") -> None:
        super().__init__(message)
        self.head = head


class DeviceFlowError(AllegroAuthError):
    """The device flow ended without tokens: `reason` is denied, expired or failed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
