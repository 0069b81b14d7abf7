"""Group a batch of journal events by checkout form: one read per order per batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from application.ports.allegro import JournalEvent
from domain.policy import ImportTrigger, Revelation
from domain.statuses import AllegroStatus


@dataclass(frozen=True, slots=True)
class FormEvents:
    checkout_form_id: str
    events: tuple[JournalEvent, ...]

    def revelation(self, revision: str | None, trigger: ImportTrigger) -> Revelation:
        """Pick the event that revealed `revision`, so a replay picks the same one.

        The earliest event carrying the revision read is stable when the batch grows at
        its end (a restart after a crash reads at least the same events); without one,
        the newest event of the batch stands for it.
        """
        matching = [e for e in self.events if revision is not None and e.revision == revision]
        chosen = matching[0] if matching else self.events[-1]
        return Revelation(
            reason=chosen.type,
            occurred_at=chosen.occurred_at,
            saw_trigger_event=self.saw_trigger_event(trigger),
        )

    def saw_trigger_event(self, trigger: ImportTrigger) -> bool:
        """Does an event of this batch say the order reached the import trigger?"""
        return any(_is_trigger_event(e, trigger) for e in self.events)

    def before_payment(self) -> bool:
        """Are all of this batch's events for the order from before payment (BOUGHT,
        FILLED_IN)? Such a form may since have been merged into another and be gone."""
        return all(e.type in _BEFORE_PAYMENT for e in self.events)


_BEFORE_PAYMENT = frozenset({AllegroStatus.BOUGHT, AllegroStatus.FILLED_IN})


def coalesce(events: Sequence[JournalEvent]) -> list[FormEvents]:
    """Events per checkout form, in order of first appearance; events with no form are dropped."""
    grouped: dict[str, list[JournalEvent]] = {}
    for event in events:
        if event.checkout_form_id:
            grouped.setdefault(event.checkout_form_id, []).append(event)
    return [FormEvents(form_id, tuple(evs)) for form_id, evs in grouped.items()]


def _is_trigger_event(event: JournalEvent, trigger: ImportTrigger) -> bool:
    if trigger is ImportTrigger.BOUGHT:
        return True
    return event.type == AllegroStatus.READY_FOR_PROCESSING
