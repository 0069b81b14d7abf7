"""Allegro's JSON for the write-back resources: shipments (tracking numbers) and carriers
(docs/allegro-api.md, Writing back to orders), validated by pydantic-core straight from the
response bytes like the order bodies in wire.py.

Keys not declared here are ignored. Every string is bounded: a shipment id goes into a
command result (docs/allegro-api.md: ids are short, base64-like), and no value Allegro sends
back here is legitimately long (a waybill has at most 64 characters, carrier ids are short
upper-case words), so a value far past that is a broken or hostile body, not data.
"""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, with_config
from typing_extensions import TypedDict

_WIRE = ConfigDict(coerce_numbers_to_str=True, extra="ignore")

# Visible ASCII only: the id names the shipment in a command result and in logs.
ShipmentId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[!-~]+$")]
CarrierId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Waybill = Annotated[str, StringConstraints(max_length=256)]
LineItemId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
MAX_SHIPMENTS = 10_000  # per order; far above any real order's parcels
MAX_CARRIERS = 10_000


@with_config(_WIRE)
class ShipmentLineItemWire(TypedDict):
    id: LineItemId


@with_config(_WIRE)
class ShipmentWire(TypedDict):
    """`CheckoutFormAddWaybillCreated`: a `GET .../shipments` item and the `201` body."""

    id: ShipmentId
    carrierId: CarrierId
    waybill: Waybill
    lineItems: NotRequired[
        Annotated[list[ShipmentLineItemWire], Field(max_length=MAX_SHIPMENTS)] | None
    ]


@with_config(_WIRE)
class ShipmentsWire(TypedDict):
    shipments: Annotated[list[ShipmentWire], Field(max_length=MAX_SHIPMENTS)]


@with_config(_WIRE)
class CarrierWire(TypedDict):
    id: CarrierId  # `name` is optional (OTHER has none) and not read


@with_config(_WIRE)
class CarriersWire(TypedDict):
    carriers: Annotated[list[CarrierWire], Field(max_length=MAX_CARRIERS)]


SHIPMENT_BODY: TypeAdapter[ShipmentWire] = TypeAdapter(ShipmentWire)
SHIPMENTS_BODY: TypeAdapter[ShipmentsWire] = TypeAdapter(ShipmentsWire)
CARRIERS_BODY: TypeAdapter[CarriersWire] = TypeAdapter(CarriersWire)
