"""What the command path needs from Allegro besides reading forms: writing an order's
fulfillment status and its shipments (docs/allegro-api.md, Writing back to orders)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from application.ports.errors import AllegroRejected


@dataclass(frozen=True, slots=True)
class Shipment:
    """A tracking number on an order, ours or added elsewhere (Sales Center, the carrier)."""

    id: str
    carrier_id: str
    waybill: str
    line_item_ids: tuple[str, ...] = ()


class RevisionConflict(AllegroRejected):
    """409: the revision sent is not the order's current one (someone changed it)."""


class OrderWriter(Protocol):
    async def set_fulfillment_status(
        self, checkout_form_id: str, status: str, revision: str | None
    ) -> None:
        """Raises RevisionConflict (409), CheckoutFormNotFound (404), AllegroRejected (other
        4xx, with Allegro's error code in the message), or an outage error."""
        ...

    async def shipments(self, checkout_form_id: str) -> Sequence[Shipment]:
        """Every shipment Allegro holds for the order, whoever added it."""
        ...

    async def add_shipment(
        self,
        checkout_form_id: str,
        carrier_id: str,
        waybill: str,
        carrier_name: str | None,
        line_item_ids: Sequence[str],
    ) -> Shipment:
        """One POST. Allegro has no idempotency key here: callers list before they post.
        Raises AllegroRejected (4xx) or an outage error (the shipment may then exist)."""
        ...

    async def carrier_ids(self) -> frozenset[str]:
        """The carrier ids Allegro accepts now (`GET /order/carriers`)."""
        ...
