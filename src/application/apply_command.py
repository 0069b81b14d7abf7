"""Use case: apply one OpenOMS command to Allegro, exactly once in effect, and say how it ended.

Every effect is checked before it is repeated, so a command delivered twice, or re-delivered
after a crash anywhere between the request and the offset commit, changes nothing more:
- `SetFulfillmentStatus` with `expected_revision`: that revision goes with the PUT (OpenOMS's
  optimistic lock). A 409 is a conflict of intent and ends the command as `conflict` with the
  order's current revision and status, unless the order already shows the status asked for
  (the same command applied before a crash): success.
- `SetFulfillmentStatus` without one: the order is read, and the PUT carries the revision
  read; already in that status is success; a 409 is a race with another writer: read again
  and retry (at most `RACE_RETRIES` times, then `conflict`).
- `AddShipment`: Allegro has no idempotency key, so the order's shipments are listed before
  the POST; one with the same carrier and waybill is this command's effect (success). The
  carrier id is checked against Allegro's current list (cached for a day) first.
A permanent refusal (4xx) ends the command as `rejected`; an outage (5xx, timeouts, 429,
auth) propagates: the caller holds the command and tries again later, and the checks above
make that safe.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from application.ports.allegro import CheckoutFormReader
from application.ports.clock import Clock
from application.ports.errors import (
    AllegroRejected,
    CheckoutFormNotFound,
    MalformedCheckoutForm,
)
from application.ports.order_writes import OrderWriter, RevisionConflict
from domain.commands import (
    AddShipment,
    Command,
    CommandFailed,
    CommandResult,
    CommandSucceeded,
    FailureReason,
    SetFulfillmentStatus,
)
from domain.order import OrderSnapshot

log = logging.getLogger(__name__)

RACE_RETRIES = 3
CARRIERS_TTL = timedelta(days=1)


class Carriers:
    """Allegro's carrier ids, read at most once a day (they change rarely, and never by us)."""

    def __init__(self, writer: OrderWriter, clock: Clock, ttl: timedelta = CARRIERS_TTL) -> None:
        self._writer = writer
        self._clock = clock
        self._ttl = ttl
        self._ids: frozenset[str] = frozenset()
        self._read_at: datetime | None = None

    async def known(self, carrier_id: str) -> bool:
        now = self._clock.now()
        if self._read_at is None or now - self._read_at >= self._ttl:
            self._ids = await self._writer.carrier_ids()
            self._read_at = now
        return carrier_id in self._ids


class ApplyCommand:
    def __init__(
        self,
        forms: CheckoutFormReader,
        writer: OrderWriter,
        carriers: Carriers,
    ) -> None:
        self._forms = forms
        self._writer = writer
        self._carriers = carriers

    async def __call__(self, command: Command, at: datetime) -> CommandResult:
        """`at`: the command's own time, which its result carries (replay-identical)."""
        try:
            if isinstance(command, SetFulfillmentStatus):
                return await self._set_status(command, at)
            return await self._add_shipment(command, at)
        except CheckoutFormNotFound as exc:
            return _failed(command, at, FailureReason.REJECTED, str(exc), "NOT_FOUND")
        except MalformedCheckoutForm as exc:
            # Reading it again gives the same body: held as an outage, it would stop the
            # partition for good.
            why = f"the order cannot be read: {exc.unreadable.reason}"
            return _failed(command, at, FailureReason.REJECTED, why[:200], "UNREADABLE_ORDER")
        except RevisionConflict:
            raise  # handled where it is expected; here it would be a bug
        except AllegroRejected as exc:
            return _failed(command, at, FailureReason.REJECTED, str(exc), exc.code)

    async def _set_status(self, command: SetFulfillmentStatus, at: datetime) -> CommandResult:
        form_id = command.checkout_form_id
        if command.expected_revision is not None:
            try:
                await self._writer.set_fulfillment_status(
                    form_id, command.status, command.expected_revision
                )
            except RevisionConflict:
                current = await self._forms.get(form_id)
                if current.fulfillment_status == command.status:
                    return _succeeded(command, at)  # applied before (a re-delivery)
                return _conflict(
                    command,
                    at,
                    current,
                    "the order changed since OpenOMS decided (revision outdated)",
                )
            return _succeeded(command, at)
        for _ in range(RACE_RETRIES):
            current = await self._forms.get(form_id)
            if current.fulfillment_status == command.status:
                return _succeeded(command, at)
            try:
                await self._writer.set_fulfillment_status(form_id, command.status, current.revision)
            except RevisionConflict:
                log.info(
                    "fulfillment write raced another writer", extra={"checkout_form_id": form_id}
                )
                continue
            return _succeeded(command, at)
        current = await self._forms.get(form_id)
        return _conflict(
            command, at, current, f"the order kept changing: {RACE_RETRIES} writes lost the race"
        )

    async def _add_shipment(self, command: AddShipment, at: datetime) -> CommandResult:
        form_id = command.checkout_form_id
        existing = await self._writer.shipments(form_id)
        for shipment in existing:
            if command.same_parcel(shipment.carrier_id, shipment.waybill):
                return _succeeded(command, at, shipment.id)  # made before: not again
        if not await self._carriers.known(command.carrier_id):
            return _failed(
                command,
                at,
                FailureReason.INVALID,
                f"carrier {command.carrier_id[:40]!r} is not one Allegro knows",
            )
        created = await self._writer.add_shipment(
            form_id,
            command.carrier_id,
            command.waybill,
            command.carrier_name,
            command.line_item_ids,
        )
        return _succeeded(command, at, created.id)


def _succeeded(command: Command, at: datetime, shipment_id: str | None = None) -> CommandSucceeded:
    return CommandSucceeded(
        command_id=command.command_id,
        command_type=command.command_type,
        account=command.account,
        checkout_form_id=command.checkout_form_id,
        occurred_at=at,
        shipment_id=shipment_id,
    )


def _conflict(
    command: SetFulfillmentStatus, at: datetime, current: OrderSnapshot, message: str
) -> CommandFailed:
    """`conflict`, with the order as it is now (what OpenOMS needs to decide again)."""
    return dataclasses.replace(
        _failed(command, at, FailureReason.CONFLICT, message),
        current_revision=current.revision,
        current_status=current.fulfillment_status,
    )


def _failed(
    command: Command, at: datetime, reason: FailureReason, message: str, code: str | None = None
) -> CommandFailed:
    return CommandFailed(
        command_id=command.command_id,
        command_type=command.command_type,
        account=command.account,
        checkout_form_id=command.checkout_form_id,
        occurred_at=at,
        reason=reason,
        message=message,
        code=code,
    )
