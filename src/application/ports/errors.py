"""Port-level exceptions: adapters translate their library's errors into these.

Tree::

    PortError
    ├── AllegroError
    │   ├── AllegroUnavailable      outage: 5xx, timeouts, connection errors, 429 beyond patience
    │   ├── MalformedBody           a 2xx body we cannot read (hostile, oversize, API change):
    │   │                           for a list page, read its forms one by one instead
    │   ├── AllegroAuthError        tokens rejected or missing: an operator must re-authorise
    │   ├── AllegroRejected         a 4xx we did not expect (bad request, 403, 406, 422)
    │   ├── CheckoutFormNotFound    404: merged into a new order, or older than 12 months
    │   │                           (docs/allegro-api.md, Checkout form)
    │   └── MalformedCheckoutForm   the body cannot be understood: a bad item, not an outage
    ├── PublishError                the broker did not acknowledge
    └── StateStoreError             the state store failed
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from application.ports.allegro import UnreadableCheckoutForm


class PortError(Exception):
    """Base of every error crossing a port."""


class AllegroError(PortError):
    pass


class AllegroUnavailable(AllegroError):
    pass


class MalformedBody(AllegroError):
    """A 2xx body that cannot be read as what it should be. The adapters' concrete errors
    are outages too (a journal page cannot be skipped: the poll backs off and retries)."""


class AllegroAuthError(AllegroError):
    pass


class AllegroRejected(AllegroError):
    def __init__(
        self, message: str, status_code: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code  # Allegro's error code (`errors[0].code`), when its body gave one


class CheckoutFormNotFound(AllegroError):
    def __init__(self, checkout_form_id: str) -> None:
        super().__init__(f"checkout form {checkout_form_id} not found")
        self.checkout_form_id = checkout_form_id


class MalformedCheckoutForm(AllegroError):
    def __init__(self, unreadable: UnreadableCheckoutForm) -> None:
        super().__init__(f"checkout form {unreadable.checkout_form_id}: {unreadable.reason}")
        self.unreadable = unreadable


class PublishError(PortError):
    pass


class ConsumeError(PortError):
    """The broker cannot be read from or committed to (an outage: the command path holds)."""


class StateStoreError(PortError):
    pass
