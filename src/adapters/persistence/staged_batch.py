"""A staged batch <-> the text kept in `staged_batches.payload`, shared by every store.

JSON, with bytes in base64 so that keys, values and headers round-trip exactly, and
records in the same columns as `order_records`. `format` lets a later release tell this
layout from its own. Two additions were made within format 1, each readable when absent, since
a crash across an upgrade leaves the previous release's batch to re-send: `quarantined` (the
dead-letter index entries), an optional key, so an earlier batch quarantines nothing; and a
sixth record column, the content fingerprint, so an earlier batch's five-column records read
with content None, as that release's rows do (see `domain.fingerprint` for what None means).
Encoding also refuses what `commit` would refuse (an empty cursor position, an empty
checkout form id, a content `rows.check_content` refuses), so a batch that could never
commit is never staged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Sequence
from typing import Any

from adapters.persistence.rows import (
    dead_letter_row,
    record_from_row,
    record_to_row,
    utc_from_text,
)
from application.ports.errors import StateStoreError
from application.ports.publisher import OutboundMessage
from application.ports.state import Cursor, Quarantined, StagedBatch
from domain.policy import OrderRecord

FORMAT = 1


def encode_staged(batch: StagedBatch) -> str:
    cursor = batch.cursor
    if cursor is not None and cursor.position == "":
        raise StateStoreError("a cursor position must not be empty (use None)")
    records = [record_to_row(record) for record in batch.records]
    if any(not row[0] for row in records):
        raise StateStoreError("the checkout form id must not be empty")
    payload = {
        "format": FORMAT,
        "cursor": None if cursor is None else {"position": cursor.position},
        "records": records,
        "cleared_failures": list(batch.cleared_failures),
        "messages": [
            {
                "channel": message.channel,
                "key": _b64(message.key),
                "value": _b64(message.value),
                "headers": [[name, _b64(value)] for name, value in message.headers],
            }
            for message in batch.messages
        ],
    }
    if batch.quarantined:
        payload["quarantined"] = [_quarantined_to_json(entry) for entry in batch.quarantined]
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":"))


def decode_staged(text: str) -> StagedBatch:
    try:
        payload = json.loads(text)
        if payload["format"] != FORMAT:
            raise StateStoreError(
                f"the staged batch is in format {payload['format']!r}, this release reads "
                f"{FORMAT}: upgrade openoms-allegro"
            )
        cursor = payload["cursor"]
        return StagedBatch(
            cursor=None if cursor is None else Cursor(_optional_str(cursor["position"])),
            records=tuple(_record(row) for row in payload["records"]),
            cleared_failures=tuple(_str(id_) for id_ in payload["cleared_failures"]),
            messages=tuple(_message(message) for message in payload["messages"]),
            quarantined=tuple(_quarantined(entry) for entry in payload.get("quarantined", ())),
        )
    except StateStoreError:
        raise
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:  # JSONDecodeError too
        raise StateStoreError(f"the staged batch is unreadable: {exc!r}") from exc


def staged_cursor(payload: str) -> object:
    """The cursor a staged payload carries (None for a sweep page's): what decides whether a
    commit without a cursor ends it (see `StateStore.commit`)."""
    return json.loads(payload)["cursor"]


def decided_again(
    cleared_failures: Collection[str], quarantined: Sequence[Quarantined]
) -> list[str]:
    """The cleared ids whose quarantine entry a commit drops: decided (imported, or gone)
    rather than quarantined by the batch it ends."""
    dead = {entry.checkout_form_id for entry in quarantined}
    return [form_id for form_id in dict.fromkeys(cleared_failures) if form_id not in dead]


_COLUMNS_BEFORE_CONTENT = 5  # a record as the release before content fingerprints staged it


def _record(row: object) -> OrderRecord:
    if not isinstance(row, list):
        raise TypeError(f"expected a record's columns, got {row!r}")
    if len(row) == _COLUMNS_BEFORE_CONTENT:
        row = [*row, None]
    record = record_from_row(tuple(row))  # a wrong column count raises ValueError
    _optional_str(record.content)
    return record


def _message(message: dict[str, Any]) -> OutboundMessage:
    return OutboundMessage(
        channel=_str(message["channel"]),
        key=_unb64(message["key"]),
        value=_unb64(message["value"]),
        headers=tuple((_str(name), _unb64(value)) for name, value in message["headers"]),
    )


def _quarantined_to_json(entry: Quarantined) -> dict[str, Any]:
    # The row the commit will write: what it would refuse is refused before staging.
    form_id, event_id, _, attempts, failed_at = dead_letter_row(entry)
    return {
        "checkout_form_id": form_id,
        "allegro_event_id": event_id,
        "error": entry.error,  # whole: the batch round-trips exactly
        "attempts": attempts,
        "failed_at": failed_at,
    }


def _quarantined(entry: dict[str, Any]) -> Quarantined:
    attempts = entry["attempts"]
    if not isinstance(attempts, int):
        raise TypeError(f"expected a count, got {attempts!r}")
    return Quarantined(
        checkout_form_id=_str(entry["checkout_form_id"]),
        allegro_event_id=_optional_str(entry["allegro_event_id"]),
        error=_str(entry["error"]),
        attempts=attempts,
        failed_at=utc_from_text(_str(entry["failed_at"])),
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    return base64.b64decode(_str(text), validate=True)


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _optional_str(value: object) -> str | None:
    return None if value is None else _str(value)
