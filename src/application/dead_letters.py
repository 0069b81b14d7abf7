"""What goes to the dead-letter topic when a parsed form cannot be mapped, or when a
journal entry is not Allegro's."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

from application.ports.allegro import JournalEvent
from application.ports.publisher import DeadLetter
from domain.errors import DomainError
from domain.order import OrderSnapshot

# The key of a quarantined journal entry that names no checkout form we may read: never a
# value it carried (an id of `.` or with a NUL is exactly what must not be used).
MALFORMED_EVENT_KEY = "malformed-event-{event_id}"


def describe(order: OrderSnapshot) -> str:
    """The parsed form as JSON: the wire body was readable, its values were not mappable."""
    return json.dumps(dataclasses.asdict(order), default=str, sort_keys=True, ensure_ascii=False)


def decision_error(exc: Exception) -> str:
    """Why deciding a form failed, for its failure row and dead letter. A domain error says
    it itself; anything else (data nobody foresaw, or a bug) is the last resort that keeps one
    form from stopping the account, named by its type only (its text may quote the form)."""
    if isinstance(exc, DomainError):
        return str(exc)
    return f"unexpected {type(exc).__name__} while deciding"


def malformed_event(account: str, event: JournalEvent, at: datetime) -> DeadLetter:
    """A journal entry that is not Allegro's, quarantined at once: the journal does not
    change, so reading it again cannot help, and the cursor must pass it."""
    return DeadLetter(
        account=account,
        checkout_form_id=MALFORMED_EVENT_KEY.format(event_id=event.id),
        allegro_event_id=event.id,
        raw_payload=event.raw or "",
        error=f"malformed journal event: {event.malformed}",
        attempts=1,
        failed_at=at,
    )
