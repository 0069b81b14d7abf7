"""The offer store's values <-> database columns and stored text, shared by the SQL stores.

A staged offer batch (`StagedOffers`) and an offer round (`OfferRound`) are kept whole as JSON
text, each with a `format` so that a later release can tell this layout from its own (a round
is written in format 2; format 1, written before rounds carried `answered` and `outcome`, is
read as a round with no answered position and no outcome); messages
are laid out as in `staged_batch` (bytes in base64, so keys, values and headers round-trip
exactly). Everything read back is checked field by field and rebuilt through the domain's own
constructors (which validate): a stored value that is not what was written raises one
StateStoreError naming what is unreadable, never a silently different round.

What a round carries is kept as written, so that a round finished after a restart re-sends the
same command ids and re-encodes the same results: Decimal amounts as their text (`12.50` stays
`12.50`), datetimes in ISO 8601 with their own UTC offset, tuples in their order.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from adapters.persistence.rows import require_aware
from application.ports.commands import Position
from application.ports.errors import StateStoreError
from application.ports.offers import (
    MAX_FAILURE_TEXT,
    FailedTask,
    Failure,
    OfferCursor,
    OfferRound,
    RoundOutcome,
    StagedOffers,
)
from application.ports.publisher import OutboundMessage
from domain.errors import DomainError
from domain.money import Money
from domain.offers import (
    BatchCommand,
    BatchKind,
    OfferCommand,
    OfferRecord,
    OfferRequest,
    PublicationAction,
    SetPrice,
    SetStock,
)

FORMAT = 1  # the staged offer batch
ROUND_FORMAT = 2  # the offer round; format 1 (no `answered`, no `outcome`) is still read
ROUND_FORMATS = (1, ROUND_FORMAT)

# `offer_records` columns after the account, in the order the stores select them.
OfferRecordRow = tuple[str, str, str | None, str]

T = TypeVar("T")


# --- offer records and the cursor ----------------------------------------------------------


def offer_record_row(record: OfferRecord) -> OfferRecordRow:
    if not record.offer_id:
        raise StateStoreError("an offer record's offer id must not be empty")
    return (record.offer_id, record.values, record.ended_by, record.publication_status)


def offer_record_from_row(row: tuple[Any, ...]) -> OfferRecord:
    try:
        return _offer_record(row)
    except (TypeError, ValueError) as exc:
        raise StateStoreError(f"an offer record is unreadable: {_short(exc, 200)}") from exc


def _offer_record(row: tuple[Any, ...]) -> OfferRecord:
    offer_id, values, ended_by, publication_status = row
    return OfferRecord(
        offer_id=_str(offer_id),
        values=_str(values),
        ended_by=_optional_str(ended_by),
        publication_status=_str(publication_status),
    )


def cursor_position(cursor: OfferCursor) -> str | None:
    """The position as stored; an empty one would read as "from the oldest" to no one."""
    if cursor.position == "":
        raise StateStoreError("an offer cursor's position must not be empty (use None)")
    return cursor.position


def cursor_read_at(cursor: OfferCursor) -> datetime:
    """In UTC: the stores keep the instant (a TIMESTAMPTZ keeps no offset)."""
    return require_aware(cursor.read_at, "read_at")


# --- the staged offer batch ----------------------------------------------------------------


def encode_staged_offers(batch: StagedOffers) -> str:
    """Refuses what `commit_offers` would refuse, so a batch that could never commit is never
    staged."""
    cursor = batch.cursor
    payload = {
        "format": FORMAT,
        "cursor": None if cursor is None else _cursor_to_json(cursor),
        "records": [list(offer_record_row(record)) for record in batch.records],
        "messages": [_message_to_json(message) for message in batch.messages],
    }
    return _dumps(payload)


def decode_staged_offers(text: str) -> StagedOffers:
    return _decoding("the staged offer batch", text, _staged_from_json)


def _staged_from_json(payload: dict[str, Any]) -> StagedOffers:
    cursor = payload["cursor"]
    return StagedOffers(
        cursor=None if cursor is None else _cursor_from_json(_dict(cursor)),
        records=tuple(_offer_record(tuple(_list(row))) for row in _list(payload["records"])),
        messages=tuple(_message(_dict(message)) for message in _list(payload["messages"])),
    )


def _cursor_to_json(cursor: OfferCursor) -> dict[str, Any]:
    return {
        "position": cursor_position(cursor),
        "read_at": cursor_read_at(cursor).isoformat(),
    }


def _cursor_from_json(cursor: dict[str, Any]) -> OfferCursor:
    position = _optional_str(cursor["position"])
    if position == "":
        raise ValueError("an empty cursor position")
    return OfferCursor(position, _aware(cursor["read_at"]))


# --- the offer round -----------------------------------------------------------------------


def encode_round(offer_round: OfferRound) -> str:
    outcome = offer_round.outcome
    payload = {
        "format": ROUND_FORMAT,
        "round_key": offer_round.round_key,
        "covers": [[position.partition, position.offset] for position in offer_round.covers],
        "requests": [_request_to_json(request) for request in offer_round.requests],
        "offers_by_sku": [[sku, list(ids)] for sku, ids in offer_round.offers_by_sku],
        "commands": [_command_to_json(command) for command in offer_round.commands],
        "reactivate": list(offer_round.reactivate),
        "answered": [[position.partition, position.offset] for position in offer_round.answered],
        "outcome": None if outcome is None else _outcome_to_json(outcome),
    }
    return _dumps(payload)


def decode_round(text: str) -> OfferRound:
    return _decoding("the staged offer round", text, _round_from_json, ROUND_FORMATS)


def _round_from_json(payload: dict[str, Any]) -> OfferRound:
    if payload["format"] == 1:  # before `answered` and `outcome`
        answered, outcome = [], None
    else:
        answered, outcome = _list(payload["answered"]), payload["outcome"]
    return OfferRound(
        round_key=_str(payload["round_key"]),
        covers=tuple(_position(_list(pair)) for pair in _list(payload["covers"])),
        requests=tuple(_request(_dict(entry)) for entry in _list(payload["requests"])),
        offers_by_sku=tuple(_sku_offers(_list(entry)) for entry in _list(payload["offers_by_sku"])),
        commands=tuple(_command(_dict(entry)) for entry in _list(payload["commands"])),
        reactivate=tuple(_str(offer_id) for offer_id in _list(payload["reactivate"])),
        answered=tuple(_position(_list(pair)) for pair in answered),
        outcome=None if outcome is None else _outcome(_dict(outcome)),
    )


def _outcome_to_json(outcome: RoundOutcome) -> dict[str, Any]:
    return {
        "activations": [_command_to_json(command) for command in outcome.activations],
        "failed": [
            [str(task.command_id), task.offer_id, task.failure.message, task.failure.code]
            for task in outcome.failed
        ],
    }


def _outcome(entry: dict[str, Any]) -> RoundOutcome:
    return RoundOutcome(
        activations=tuple(_command(_dict(command)) for command in _list(entry["activations"])),
        failed=tuple(_failed_task(_list(task)) for task in _list(entry["failed"])),
    )


def _failed_task(entry: list[Any]) -> FailedTask:
    command_id, offer_id, message, code = entry
    failure = Failure(_bounded(_str(message)), _optional_bounded(code))
    return FailedTask(_uuid(command_id), _str(offer_id), failure)


def _bounded(text: str) -> str:
    """A failure's message and code are Allegro's words, bounded when they were stored."""
    if len(text) > MAX_FAILURE_TEXT:
        raise ValueError(f"a failure text longer than {MAX_FAILURE_TEXT} characters")
    return text


def _optional_bounded(value: object) -> str | None:
    return None if value is None else _bounded(_str(value))


def _position(pair: list[Any]) -> Position:
    partition, offset = (_int(number) for number in pair)
    if partition < 0 or offset < 0:
        raise ValueError(f"a position is never negative, got {_short(pair)}")
    return Position(partition, offset)


def _sku_offers(entry: list[Any]) -> tuple[str, tuple[str, ...]]:
    sku, offer_ids = entry
    return _str(sku), tuple(_str(offer_id) for offer_id in _list(offer_ids))


def _request_to_json(request: OfferRequest) -> dict[str, Any]:
    command = request.command
    fields: dict[str, Any] = {
        "command_type": command.command_type,
        "command_id": str(command.command_id),
        "account": command.account,
        "sku": command.sku,
    }
    if isinstance(command, SetStock):
        fields["available"] = command.available
    else:
        fields |= {
            "amount": str(command.price.amount),
            "currency": command.price.currency,
            "marketplace": command.marketplace,
        }
    return {"at": _aware_text(request.at, "an offer request's time"), "command": fields}


def _request(entry: dict[str, Any]) -> OfferRequest:
    return OfferRequest(command=_offer_command(_dict(entry["command"])), at=_aware(entry["at"]))


def _offer_command(fields: dict[str, Any]) -> OfferCommand:
    command_type = fields["command_type"]
    command_id = _uuid(fields["command_id"])
    account, sku = _str(fields["account"]), _str(fields["sku"])
    if command_type == SetStock.command_type:
        return SetStock(command_id, account, sku, _int(fields["available"]))
    if command_type == SetPrice.command_type:
        price = Money.parse(_str(fields["amount"]), _str(fields["currency"]))
        return SetPrice(command_id, account, sku, price, _optional_str(fields["marketplace"]))
    raise ValueError(f"unknown command type {_short(command_type)}")


def _command_to_json(command: BatchCommand) -> dict[str, Any]:
    price = command.price
    return {
        "kind": str(command.kind),
        "command_id": str(command.command_id),
        "offer_ids": list(command.offer_ids),
        "quantity": command.quantity,
        "price": None
        if price is None
        else {"amount": str(price.amount), "currency": price.currency},
        "marketplace": command.marketplace,
        "action": None if command.action is None else str(command.action),
    }


def _command(entry: dict[str, Any]) -> BatchCommand:
    price = entry["price"]
    quantity = entry["quantity"]
    action = entry["action"]
    if price is not None:
        price = _dict(price)
    return BatchCommand(  # its own checks: one modification of its kind, 1..1000 offers
        kind=BatchKind(_str(entry["kind"])),
        command_id=_uuid(entry["command_id"]),
        offer_ids=tuple(_str(offer_id) for offer_id in _list(entry["offer_ids"])),
        quantity=None if quantity is None else _int(quantity),
        price=None
        if price is None
        else Money.parse(_str(price["amount"]), _str(price["currency"])),
        marketplace=_optional_str(entry["marketplace"]),
        action=None if action is None else PublicationAction(_str(action)),
    )


# --- messages, as `staged_batch` lays them out ----------------------------------------------


def _message_to_json(message: OutboundMessage) -> dict[str, Any]:
    return {
        "channel": message.channel,
        "key": _b64(message.key),
        "value": _b64(message.value),
        "headers": [[name, _b64(value)] for name, value in message.headers],
    }


def _message(message: dict[str, Any]) -> OutboundMessage:
    return OutboundMessage(
        channel=_str(message["channel"]),
        key=_unb64(message["key"]),
        value=_unb64(message["value"]),
        headers=tuple(_header(_list(header)) for header in _list(message["headers"])),
    )


def _header(header: list[Any]) -> tuple[str, bytes]:
    name, value = header
    return _str(name), _unb64(value)


# --- reading stored text strictly ----------------------------------------------------------


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":"))


def _decoding(
    what: str,
    text: object,
    read: Callable[[dict[str, Any]], T],
    formats: tuple[int, ...] = (FORMAT,),
) -> T:
    try:
        payload = _dict(json.loads(_str(text)))
        stored = payload["format"]
        if isinstance(stored, bool) or stored not in formats:
            readable = " and ".join(str(number) for number in formats)
            raise StateStoreError(
                f"{what} is in format {_short(stored)}, this release reads "
                f"{readable}: upgrade openoms-allegro"
            )
        return read(payload)
    except StateStoreError:
        raise
    # JSONDecodeError and binascii.Error are ValueErrors; DomainError: a value the domain
    # refuses (an amount, a SKU); RecursionError: nesting too deep for the parser.
    except (ValueError, TypeError, KeyError, binascii.Error, DomainError, RecursionError) as exc:
        raise StateStoreError(f"{what} is unreadable: {_short(exc, 200)}") from exc


def _aware_text(moment: datetime, what: str) -> str:
    """ISO 8601 with the moment's own offset: read back to the same text."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.isoformat()


def _aware(value: object) -> datetime:
    moment = datetime.fromisoformat(_str(value))
    if moment.tzinfo is None:
        raise ValueError(f"a naive time {_short(value)}")
    return moment


def _uuid(value: object) -> uuid.UUID:
    return uuid.UUID(_str(value))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    return base64.b64decode(_str(text), validate=True)


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {_short(value)}")
    return value


def _optional_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {_short(value)}")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {_short(value)}")
    return value


def _dict(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {_short(value)}")
    return value


def _short(value: object, limit: int = 60) -> str:
    """A bounded repr for error messages: a corrupted row may hold megabytes."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
