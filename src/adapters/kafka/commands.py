"""The command topic's wire contract (README.md, Commands): OpenOMS's commands in, one result
per command out. Every byte read is untrusted: a record is read into a command, an `invalid`
answer (a command id was there, the rest broke the schema or the command's own rules), a
reject for the dead-letter topic (no command at all), or another account's command (skipped).
Results are encoded deterministically: the same result gives the same key, value and headers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.kafka.messages import (
    UtcTimestamp,
    ce_source,
    cloudevent_headers,
    encode_dead_letter,
    utc_timestamp,
)
from application.ports.commands import Position, ReceivedCommand
from application.ports.publisher import COMMAND_RESULTS, DEAD_LETTERS, DeadLetter, OutboundMessage
from domain.commands import (
    AddShipment,
    Command,
    CommandFailed,
    CommandResult,
    FailureReason,
    InvalidCommand,
    SetFulfillmentStatus,
)
from domain.errors import DomainError

CE_TYPE_SET_FULFILLMENT_STATUS = "openoms.allegro.set_fulfillment_status.v1"
CE_TYPE_ADD_SHIPMENT = "openoms.allegro.add_shipment.v1"
CE_TYPE_COMMAND_RESULT = "openoms.allegro.command_result.v1"
MAX_COMMAND_BYTES = 64 * 1024  # a command is a few hundred bytes; anything this big is not one
_MAX_ID = 128
_MAX_TEXT = 512

Id = Annotated[str, Field(min_length=1, max_length=_MAX_ID)]


class _Command(BaseModel):
    # Unknown fields are ignored (a newer OpenOMS may send more within v1); types are strict:
    # a number where a string belongs is a broken command, not a string. The attribute
    # docstrings are the fields' descriptions in contracts/ (they change no validation).
    model_config = ConfigDict(
        extra="ignore", strict=True, frozen=True, use_attribute_docstrings=True
    )

    command_id: uuid.UUID = Field(strict=False)
    """Chosen by the sender, one per command: the command is answered by exactly one result
    with this id, and delivering it again changes nothing on Allegro."""
    account: Id
    """The `ALLEGRO_ACCOUNT` the command is for: every account's service reads the topic and
    skips the other accounts' commands."""
    checkout_form_id: Id
    """The Allegro checkout form (order) id; also the record key, so that one order's commands
    are applied in order."""


class SetFulfillmentStatusMessage(_Command):
    """`ce_type` openoms.allegro.set_fulfillment_status.v1: set an order's fulfillment status
    on Allegro. Consumed by the service, which ignores fields it does not know."""

    command_type: Literal["SetFulfillmentStatus"]
    """Which command this is: what the service reads it by."""
    status: Annotated[str, Field(min_length=1, max_length=64)]
    """One of the fulfillment statuses a seller may set on Allegro: NEW, PROCESSING,
    READY_FOR_SHIPMENT, READY_FOR_PICKUP, SENT, PICKED_UP, CANCELLED, SUSPENDED; any other
    value is answered as `invalid`."""
    expected_revision: Annotated[str, Field(min_length=1, max_length=_MAX_ID)] | None = None
    """OpenOMS's optimistic lock: the order's revision it decided on; a newer one on Allegro
    ends the command as `conflict` (unless the order already shows `status`). Absent: the
    service writes with the revision it read last and retries a lost race."""


class AddShipmentMessage(_Command):
    """`ce_type` openoms.allegro.add_shipment.v1: add a shipment (a tracking number) to an
    order on Allegro, once: a shipment with the same carrier and waybill counts as done.
    Consumed by the service, which ignores fields it does not know."""

    command_type: Literal["AddShipment"]
    """Which command this is: what the service reads it by."""
    carrier_id: Id
    """An id of `GET /order/carriers` (e.g. `INPOST`, `DPD`, `OTHER`); one Allegro does not
    list is answered as `invalid`."""
    waybill: Annotated[str, Field(min_length=1, max_length=64)]
    """The tracking number."""
    carrier_name: Annotated[str, Field(min_length=1, max_length=30)] | None = None
    """Required when `carrier_id` is `OTHER`."""
    line_item_ids: Annotated[list[Id], Field(max_length=1000)] = Field(default_factory=list)
    """The order's line items the parcel holds; empty: all of them."""


class CommandResultMessage(BaseModel):
    """`ce_type` openoms.allegro.command_result.v1: how one command ended (exactly one per
    `command_id`; `result_id` is derived from it, so a re-sent result deduplicates)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    result_id: uuid.UUID
    """The record's `ce_id`, derived from `command_id`: a re-sent result has the same one, so
    consumers deduplicate on it."""
    result_type: Literal["CommandSucceeded", "CommandFailed"]
    command_id: str
    """The `command_id` of the command this answers."""
    command_type: str | None
    """The command's `command_type`; null when an `invalid` command had none."""
    account: str
    """The account of the service that answered (the command's own: others are skipped)."""
    checkout_form_id: str | None
    """The command's order; null when an `invalid` command had none (the record key is then
    the command id)."""
    occurred_at: UtcTimestamp
    """The command's own time (its `ce_time`, else its record's timestamp)."""
    shipment_id: str | None = None
    """AddShipment: the shipment Allegro holds for the command."""
    reason: Literal["rejected", "conflict", "invalid"] | None = None
    """For `CommandFailed`: `rejected` (Allegro refused it for good), `conflict` (the order
    changed since `expected_revision`) or `invalid` (the command breaks its schema or rules)."""
    code: str | None = None
    """Allegro's error code, for `rejected`."""
    message: str | None = None
    """For `CommandFailed`: why, in words."""
    current_revision: str | None = None
    """For `conflict`: the order's revision now."""
    current_status: str | None = None
    """For `conflict`: the order's fulfillment status now."""
    # Added within v1, present only in the results of offer commands: an order command's
    # result keeps the exact bytes it had before (contracts/COMPATIBILITY.md).
    sku: str | None = Field(default=None, max_length=100)
    """SetStock, SetPrice: the command's SKU (also the record key); absent from the results of
    order commands, and from an `invalid` offer command's result when it had no usable SKU."""


_MESSAGES: dict[str, type[SetFulfillmentStatusMessage] | type[AddShipmentMessage]] = {
    "SetFulfillmentStatus": SetFulfillmentStatusMessage,
    "AddShipment": AddShipmentMessage,
}


@dataclass(frozen=True, slots=True)
class Opened:
    """A record of a command topic opened as far as every command topic's rules go: its time
    and raw text, and either why it is not a command (`unreadable`) or its JSON object and
    command id."""

    at: datetime
    raw: str
    unreadable: str | None = None
    document: dict[str, Any] = field(default_factory=dict)
    command_id: uuid.UUID | None = None


def open_record(
    value: bytes | None, headers: Sequence[tuple[str, bytes]], timestamp_ms: int | None
) -> Opened:
    """The rules every command topic's records share (README.md, Commands): a value of at
    most `MAX_COMMAND_BYTES`, a JSON object, a `command_id` that is a UUID."""
    at = time_of(headers, timestamp_ms)
    raw = raw_text(value)
    if value is None:
        return Opened(at, raw, "the record has no value")
    if len(value) > MAX_COMMAND_BYTES:
        return Opened(at, raw, f"{len(value)} bytes, over the {MAX_COMMAND_BYTES}-byte limit")
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return Opened(at, raw, "the value is not JSON")
    if not isinstance(document, dict):
        return Opened(at, raw, "the value is not a JSON object")
    command_id = to_uuid(document.get("command_id"))
    if command_id is None:
        return Opened(at, raw, "no command_id (a UUID) to answer")
    return Opened(at, raw, document=document, command_id=command_id)


def raw_text(value: bytes | None) -> str:
    """A record's value as text for a dead letter: bounded, undecodable bytes replaced."""
    return (value or b"")[:MAX_COMMAND_BYTES].decode("utf-8", errors="replace")


def is_foreign(document: dict[str, Any], account: str) -> bool:
    """A command naming another account: that account's service answers it."""
    return isinstance(document.get("account"), str) and document["account"] != account


def decode_command(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    timestamp_ms: int | None,
    position: Position,
    account: str,
) -> ReceivedCommand:
    """One record of the command topic, read as far as it can be (see the module docstring)."""
    opened = open_record(value, headers, timestamp_ms)
    at, raw, document, command_id = opened.at, opened.raw, opened.document, opened.command_id
    if opened.unreadable is not None or command_id is None:
        return ReceivedCommand(position, at, raw, unreadable=opened.unreadable)
    if is_foreign(document, account):
        return ReceivedCommand(position, at, raw, foreign=True)

    def refused(why: str) -> ReceivedCommand:
        return _refused(position, at, raw, document, command_id, account, why)

    command_type = document.get("command_type")
    model = _MESSAGES.get(command_type) if isinstance(command_type, str) else None
    if model is None:
        return refused("command_type is not a known command")
    try:
        message = model.model_validate(document)
    except ValidationError as exc:
        return refused(first_problem(exc))
    try:
        command = _command(message)
    except (InvalidCommand, DomainError) as exc:
        return refused(str(exc))
    return ReceivedCommand(position, at, raw, command=command)


def _command(message: SetFulfillmentStatusMessage | AddShipmentMessage) -> Command:
    if isinstance(message, SetFulfillmentStatusMessage):
        return SetFulfillmentStatus(
            command_id=message.command_id,
            account=message.account,
            checkout_form_id=message.checkout_form_id,
            status=message.status,
            expected_revision=message.expected_revision,
        )
    return AddShipment(
        command_id=message.command_id,
        account=message.account,
        checkout_form_id=message.checkout_form_id,
        carrier_id=message.carrier_id,
        waybill=message.waybill,
        carrier_name=message.carrier_name,
        line_item_ids=tuple(message.line_item_ids),
    )


def _refused(
    position: Position,
    at: datetime,
    raw: str,
    document: dict[str, object],
    command_id: uuid.UUID,
    account: str,
    why: str,
) -> ReceivedCommand:
    """An `invalid` answer. It is this account's: a command naming another account was
    skipped before, so this one named ours or none."""

    def text(name: str) -> str | None:
        value = document.get(name)
        return value[:_MAX_ID] if isinstance(value, str) and value else None

    failed = CommandFailed(
        # The canonical form, as a valid command's result carries it (`{…}`, upper case or
        # `urn:uuid:` spellings of one id must not answer under another)
        command_id=str(command_id),
        command_type=text("command_type"),
        account=account,
        checkout_form_id=text("checkout_form_id"),
        occurred_at=at,
        reason=FailureReason.INVALID,
        message=why[:_MAX_TEXT],
    )
    return ReceivedCommand(position, at, raw, refused=failed)


def first_problem(exc: ValidationError) -> str:
    """The first broken field and why, never the value itself (it may be anything)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "the command"
    return f"{where}: {error['msg']}"


def to_uuid(value: object) -> uuid.UUID | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def time_of(headers: Sequence[tuple[str, bytes]], timestamp_ms: int | None) -> datetime:
    """`ce_time` when it is a readable time, else the record's timestamp (deterministic for a
    record either way: a re-delivered command gives its result the same time)."""
    for name, value in headers:
        if name == "ce_time":
            try:
                moment = datetime.fromisoformat(value.decode("ascii"))
                if moment.tzinfo is not None:
                    # `0001-01-01T00:00:00+01:00` is valid, and has no UTC time
                    return moment.astimezone(UTC)
            except (UnicodeDecodeError, ValueError, OverflowError):
                pass
            break
    if timestamp_ms is not None and 0 <= timestamp_ms < 253402300800000:
        return datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)


class KafkaResultEncoder:
    """Results and rejects as the records the producer sends (`ResultEncoder`)."""

    def __init__(self, max_message_bytes: int | None = None) -> None:
        self._max_bytes = max_message_bytes

    def encode_result(self, result: CommandResult) -> OutboundMessage:
        message = CommandResultMessage(
            result_id=result.result_id,
            result_type=result.result_type,
            command_id=str(result.command_id),
            command_type=result.command_type,
            account=result.account,
            checkout_form_id=result.checkout_form_id,
            occurred_at=utc_timestamp(result.occurred_at),
            sku=result.sku,
            **_details(result),
        )
        key = result.sku or result.checkout_form_id or str(result.command_id)
        headers = cloudevent_headers(
            ce_id=str(result.result_id),
            source=ce_source(result.account),
            ce_type=CE_TYPE_COMMAND_RESULT,
            subject=key,
            time=message.occurred_at,
        )
        # `sku` is left out when unset, so an order command's result has the bytes it always had
        value = message.model_dump_json(exclude={"sku"} if result.sku is None else None)
        return OutboundMessage(
            COMMAND_RESULTS, key.encode("utf-8"), value.encode("utf-8"), tuple(headers)
        )

    def encode_reject(self, letter: DeadLetter) -> OutboundMessage:
        record = encode_dead_letter(letter, self._max_bytes)
        return OutboundMessage(DEAD_LETTERS, record.key, record.value, tuple(record.headers))


def _details(result: CommandResult) -> dict[str, str | None]:
    if isinstance(result, CommandFailed):
        return {
            "reason": result.reason.value,
            "code": result.code,
            "message": result.message,
            "current_revision": result.current_revision,
            "current_status": result.current_status,
        }
    return {"shipment_id": result.shipment_id}
