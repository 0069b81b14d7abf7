"""The offer paths in `status` (docs/offers.md): the offer events cursor, what is planned and
not done, and the offer command group's lag. Read only, like the rest of `status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from application.ports.offers import OfferCursor, OfferStore


@dataclass(frozen=True, slots=True)
class OfferState:
    """What the state store holds of the offer paths."""

    cursor: OfferCursor | None
    pending_offers: int  # offer changes of a round planned and not done (finished at start)
    staged_events: int  # OfferChanged records staged and not committed (re-sent at start)


async def read_offer_state(store: OfferStore, account: str) -> OfferState:
    cursor = await store.load_offer_cursor(account)
    loaded = await store.load_round(account)
    pending = 0
    if loaded is not None and not loaded[1]:
        pending = loaded[0].offer_count()
    staged = await store.load_staged_offers(account)
    return OfferState(cursor, pending, 0 if staged is None else len(staged.messages))


def offer_state_json(state: OfferState) -> dict[str, Any]:
    cursor = state.cursor
    return {
        "cursor": None
        if cursor is None
        else {"position": cursor.position, "read_at": cursor.read_at.isoformat()},
        "pending_offer_changes": state.pending_offers,
        "staged_offer_events": state.staged_events,
    }


def offer_state_text(state: OfferState, now: datetime) -> str:
    cursor = state.cursor
    if cursor is None:
        where = "offer events not read yet"
    else:
        ago = max((now - cursor.read_at).total_seconds(), 0.0)
        position = cursor.position or "the oldest retained event"
        where = f"offer events read up to {position}, {ago:.0f} s ago"
    text = f"{where}; {state.pending_offers} offer change(s) pending"
    if state.staged_events:
        text += f"; {state.staged_events} offer event(s) staged, re-sent at the next start"
    return text
