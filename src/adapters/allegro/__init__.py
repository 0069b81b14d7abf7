"""Allegro REST adapter (httpx + authlib): the order journal, checkout forms and the order
write-back (fulfillment status, shipments) as ports.

Allegro's camelCase JSON never leaves this package; callers see domain objects and the
port errors of `application.ports.errors`.
"""

from adapters.allegro.client import AllegroClient, allegro_client_resource, build_allegro_client
from adapters.allegro.config import AllegroClientConfig
from adapters.allegro.device_flow import DeviceAuthorization, DeviceFlow
from adapters.allegro.errors import DeviceFlowError, MalformedResponse
from adapters.allegro.httpx_checkout_form_reader import HttpxCheckoutFormReader
from adapters.allegro.httpx_order_event_journal import HttpxOrderEventJournal
from adapters.allegro.httpx_order_writer import HttpxOrderWriter
from adapters.allegro.observer import NullObserver, RequestObserver

__all__ = [
    "AllegroClient",
    "AllegroClientConfig",
    "DeviceAuthorization",
    "DeviceFlow",
    "DeviceFlowError",
    "HttpxCheckoutFormReader",
    "HttpxOrderEventJournal",
    "HttpxOrderWriter",
    "MalformedResponse",
    "NullObserver",
    "RequestObserver",
    "allegro_client_resource",
    "build_allegro_client",
]
