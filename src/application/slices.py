"""Cutting a journal batch into commit units, so that progress is committed as it is made.

A batch reads each of its orders once, however many of its events name it. Under the request
budget (150 a minute by default) a batch whose orders must be read one by one can take many
minutes, and nothing of it would be published or committed before its last form is read.
So a batch is processed in slices of its orders, in the order they first appear in the
journal, each worth about `requests` requests; each slice is decided, published and
committed on its own, and moves the cursor to the event just before the next slice's first
order: every event up to there names an order of this slice or of an earlier one.

The cost of an order is what reading it will take: one request when it is read on its own,
a list page's share when its purchase time falls in a window that is read by pages (so a
batch that reads by pages stays one slice, and reads each order once, as before), nothing
when it was read ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from application.coalesce import FormEvents
from application.ports.allegro import JournalEvent

DEFAULT_SLICE_REQUESTS = 25  # 10 s of the default budget (150 a minute): commits come often


@dataclass(frozen=True, slots=True)
class Slice:
    groups: list[FormEvents]
    end: int  # index of the first event after this slice's part of the journal


def slices(
    events: Sequence[JournalEvent],
    groups: list[FormEvents],
    cost: Callable[[FormEvents], float],
    requests: float,
) -> list[Slice]:
    """`groups` (in first-appearance order) cut into slices of about `requests` each; the
    last one ends with the batch."""
    first: dict[str, int] = {}
    for index, event in enumerate(events):
        if event.checkout_form_id:
            first.setdefault(event.checkout_form_id, index)
    cut: list[Slice] = []
    part: list[FormEvents] = []
    spent = 0.0
    for group in groups:
        price = cost(group)
        if part and spent + price > requests:
            cut.append(Slice(part, first[group.checkout_form_id]))
            part, spent = [], 0.0
        part.append(group)
        spent += price
    cut.append(Slice(part, len(events)))
    return cut
