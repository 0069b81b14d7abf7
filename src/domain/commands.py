"""OpenOMS's commands for Allegro orders, and their results.

A command is valid or it is not: the checks here are the ones Allegro would make anyway
(docs/allegro-api.md, Writing back to orders), made before any request so that an invalid
command costs nothing and ends as `CommandFailed` (`invalid`). Every command ends with exactly
one result, whose id is derived from the command id: a result re-sent after a crash has the
same id and the same bytes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from domain.errors import DomainError

RESULT_NAMESPACE = uuid.uuid5(
    uuid.NAMESPACE_URL, "https://openoms.org/integrations/allegro/results"
)

# The fulfillment statuses a seller may set (`RETURNED` is Allegro's alone).
SETTABLE_FULFILLMENT = frozenset(
    {
        "NEW",
        "PROCESSING",
        "READY_FOR_SHIPMENT",
        "READY_FOR_PICKUP",
        "SENT",
        "PICKED_UP",
        "CANCELLED",
        "SUSPENDED",
    }
)
MAX_WAYBILL = 64
MAX_CARRIER_NAME = 30
OTHER_CARRIER = "OTHER"


class InvalidCommand(DomainError):
    """A command that fails its own rules: it is answered, never applied."""


@dataclass(frozen=True, slots=True)
class SetFulfillmentStatus:
    command_type: ClassVar[str] = "SetFulfillmentStatus"

    command_id: uuid.UUID
    account: str
    checkout_form_id: str
    status: str
    # OpenOMS's optimistic lock: the revision it decided on. None: the service's own read.
    expected_revision: str | None = None

    def __post_init__(self) -> None:
        if self.status not in SETTABLE_FULFILLMENT:
            raise InvalidCommand(
                f"status {self.status[:40]!r} is not one a seller may set "
                f"({', '.join(sorted(SETTABLE_FULFILLMENT))})"
            )


@dataclass(frozen=True, slots=True)
class AddShipment:
    command_type: ClassVar[str] = "AddShipment"

    command_id: uuid.UUID
    account: str
    checkout_form_id: str
    carrier_id: str
    waybill: str
    carrier_name: str | None = None
    line_item_ids: tuple[str, ...] = ()  # empty: every line of the order

    def __post_init__(self) -> None:
        if not self.waybill.strip() or len(self.waybill) > MAX_WAYBILL:
            raise InvalidCommand(f"waybill must be 1..{MAX_WAYBILL} characters")
        if not self.carrier_id:
            raise InvalidCommand("carrier_id must not be empty")
        if self.carrier_name is not None and len(self.carrier_name) > MAX_CARRIER_NAME:
            raise InvalidCommand(f"carrier_name must be at most {MAX_CARRIER_NAME} characters")
        if self.carrier_id == OTHER_CARRIER and not self.carrier_name:
            raise InvalidCommand("carrier_name is required when carrier_id is OTHER")

    def same_parcel(self, carrier_id: str, waybill: str) -> bool:
        """Is a shipment with these values this command's effect (made before a crash, or
        by the same command delivered twice)?"""
        return carrier_id == self.carrier_id and waybill.strip() == self.waybill.strip()


Command = SetFulfillmentStatus | AddShipment


class FailureReason(StrEnum):
    REJECTED = "rejected"  # Allegro refused it for good (4xx): an unknown order, a bad waybill
    CONFLICT = "conflict"  # the order changed since OpenOMS decided (expected_revision)
    INVALID = "invalid"  # the command breaks its own rules or its schema


def result_id(command_id: uuid.UUID | str) -> uuid.UUID:
    return uuid.uuid5(RESULT_NAMESPACE, f"{command_id}|result")


@dataclass(frozen=True, slots=True)
class CommandSucceeded:
    result_type: ClassVar[str] = "CommandSucceeded"

    command_id: uuid.UUID
    command_type: str
    account: str
    checkout_form_id: str | None  # an order command's order (None for an offer command)
    occurred_at: datetime  # the command's own time: a re-sent result has the same bytes
    shipment_id: str | None = None  # AddShipment: the shipment Allegro holds for it
    sku: str | None = None  # an offer command's SKU (SetStock, SetPrice)

    @property
    def result_id(self) -> uuid.UUID:
        return result_id(self.command_id)


@dataclass(frozen=True, slots=True)
class CommandFailed:
    result_type: ClassVar[str] = "CommandFailed"

    command_id: uuid.UUID | str  # a command that failed its schema may carry no valid UUID
    command_type: str | None
    account: str
    checkout_form_id: str | None
    occurred_at: datetime
    reason: FailureReason
    message: str
    code: str | None = None  # Allegro's error code, for `rejected`
    current_revision: str | None = None  # for `conflict`
    current_status: str | None = None  # for `conflict`
    sku: str | None = None  # an offer command's SKU (SetStock, SetPrice)

    @property
    def result_id(self) -> uuid.UUID:
        return result_id(self.command_id)


CommandResult = CommandSucceeded | CommandFailed
