"""What the offer paths need from Allegro and from the state store (docs/offers.md).

Inventory in: OpenOMS's `SetStock`/`SetPrice` commands are planned into Allegro's batch
commands (`OfferWriter`), for the offers a SKU maps to (`OfferCatalog`). Offer events out:
Allegro's offer event journal and the offers it names (`OfferEventJournal`) become
`OfferChanged` events. Both keep their durable state in an `OfferStore`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from application.ports.commands import Position
from application.ports.errors import AllegroRejected
from application.ports.publisher import DeadLetter, OutboundMessage
from domain.offers import (
    BatchCommand,
    MarketPrice,
    OfferChanged,
    OfferRecord,
    OfferRequest,
    OfferSnapshot,
)

# --- Allegro ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListedOffer:
    """An offer as `GET /sale/offers` lists it (no `endedBy`, no `updatedAt`)."""

    offer_id: str
    sku: str | None
    stock_available: int | None
    prices: tuple[MarketPrice, ...]
    publication_status: str


@dataclass(frozen=True, slots=True)
class OfferPage:
    offers: tuple[ListedOffer, ...]
    total: int  # Allegro's `totalCount`


class OfferCatalog(Protocol):
    async def find_by_skus(self, skus: Collection[str]) -> Sequence[ListedOffer]:
        """Every offer whose `external.id` is one of `skus` (any number: the adapter asks at
        most 100 per request, as Allegro allows, and pages through the answers)."""
        ...

    async def list_page(self, offset: int, limit: int) -> OfferPage:
        """One page of the seller's offers, in Allegro's stable order (limit <= 1000)."""
        ...


@dataclass(frozen=True, slots=True)
class CommandReport:
    """Allegro's `GeneralReport` of a batch command."""

    total: int
    success: int
    failed: int
    completed: bool  # `completedAt` is set

    @property
    def final(self) -> bool:
        return self.completed or (self.total > 0 and self.success + self.failed >= self.total)


@dataclass(frozen=True, slots=True)
class TaskReport:
    """One offer's task in a batch command."""

    offer_id: str
    status: str  # NEW, SUCCESS, FAIL (anything else is treated as not final)
    message: str | None = None  # Allegro's words for a FAIL
    code: str | None = None  # the first error's code, when Allegro gives one


class CommandIdUsed(AllegroRejected):
    """409 on a batch command's PUT: the id was used before (by this batch, sent before a
    crash): the batch is under way or done."""


class OfferWriter(Protocol):
    async def send(self, command: BatchCommand) -> bool:
        """PUT the batch command. True: accepted now (201); False: its id was already used
        (409: sent before). Honours Allegro's per-user limits on offer changes (quantity
        9 000 offers a minute and 250 000 an hour, price 9 000 and 150 000) by waiting.
        Raises AllegroRejected for another 4xx (with Allegro's code), or an outage error."""
        ...

    async def report(self, command: BatchCommand) -> CommandReport: ...

    async def tasks(self, command: BatchCommand) -> Sequence[TaskReport]:
        """Every task of the command (at most 1 000: one page)."""
        ...


@dataclass(frozen=True, slots=True)
class OfferEvent:
    """One entry of `GET /sale/offer-events`, read as far as it goes."""

    event_id: str
    occurred_at: datetime
    event_type: str
    offer_id: str


@dataclass(frozen=True, slots=True)
class UnreadableOfferEvent:
    """An entry that names no offer (or is not an event at all): quarantined as it came."""

    event_id: str | None
    raw: str  # bounded
    reason: str


@dataclass(frozen=True, slots=True)
class OfferEventPage:
    events: tuple[OfferEvent, ...]
    unreadable: tuple[UnreadableOfferEvent, ...]
    # The next `after`: the id of the page's last entry that has a usable one, readable or not
    # (entries after it, with no id to move past, are left to the next read). None: none has.
    last_id: str | None


class OfferNotFound(AllegroRejected):
    """404: the offer is gone (deleted drafts, archived offers)."""


@dataclass(frozen=True, slots=True)
class UnreadableOffer:
    offer_id: str
    raw: str  # Allegro's body, bounded
    reason: str


class OfferEventJournal(Protocol):
    async def events(self, after: str | None, limit: int) -> OfferEventPage:
        """Entries after `after` (None: from the oldest retained), oldest first."""
        ...

    async def offer(self, offer_id: str) -> OfferSnapshot | UnreadableOffer:
        """The offer now (`GET /sale/product-offers/{id}`). Raises OfferNotFound, or an
        outage error."""
        ...


# --- Kafka -------------------------------------------------------------------------------


class OfferEncoder(Protocol):
    """Pure: `OfferChanged` events (channel OFFERS, key = offer id) and dead letters (an offer
    or an offer event that cannot be read: key `offer-<offer id>` or `offer-event-<event id>`)
    to the records that are staged, deterministically."""

    def encode_offers(
        self, events: Sequence[OfferChanged], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]: ...


# --- state --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferCursor:
    """The last offer event processed (None: from the oldest retained) and when the journal
    was last read up to it: a cursor older than the journal's retention (24 h) may have
    missed events, and is repaired by a sweep of the offers."""

    position: str | None
    read_at: datetime  # timezone-aware


@dataclass(frozen=True, slots=True)
class StagedOffers:
    """A batch of `OfferChanged` (and dead letters) encoded and about to be sent."""

    cursor: OfferCursor | None  # None: a sweep page, the cursor stays
    records: tuple[OfferRecord, ...]
    messages: tuple[OutboundMessage, ...]


MAX_FAILURE_TEXT = 512  # Allegro's message and code are untrusted: bounded in results


@dataclass(frozen=True, slots=True)
class Failure:
    """Why Allegro did not apply a batch command to one offer."""

    message: str
    code: str | None = None

    @classmethod
    def bounded(cls, message: str | None, code: str | None) -> Failure:
        text = (message or "Allegro reported the task as failed")[:MAX_FAILURE_TEXT]
        return cls(text, None if code is None else code[:MAX_FAILURE_TEXT])


@dataclass(frozen=True, slots=True)
class FailedTask:
    """One offer a batch command of the round was not applied to."""

    command_id: uuid.UUID
    offer_id: str
    failure: Failure


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """What Allegro answered once every batch command of the round was final: the
    re-activations that followed and every failed task. Stored with the round before any
    result is sent, so that the round finished again answers from it, byte for byte, instead
    of asking Allegro again (which may answer otherwise: a PUT refused with `422` the first
    time answers `409` the second)."""

    activations: tuple[BatchCommand, ...]  # the ACTIVATE commands, sent after the round's own
    failed: tuple[FailedTask, ...]

    @classmethod
    def of(
        cls,
        activations: Sequence[BatchCommand],
        failures: Mapping[uuid.UUID, Mapping[str, Failure]],
    ) -> RoundOutcome:
        failed = tuple(
            FailedTask(command_id, offer_id, failure)
            for command_id, offers in failures.items()
            for offer_id, failure in offers.items()
        )
        return cls(tuple(activations), failed)

    def failures(self) -> dict[uuid.UUID, dict[str, Failure]]:
        """Per batch command id, its failed offers (absent: every offer succeeded)."""
        by_command: dict[uuid.UUID, dict[str, Failure]] = {}
        for task in self.failed:
            by_command.setdefault(task.command_id, {})[task.offer_id] = task.failure
        return by_command


@dataclass(frozen=True, slots=True)
class OfferRound:
    """A round of offer commands, planned and staged before any batch command is sent: a
    restart finishes it as planned (the same ids, the same results) instead of planning
    again from records that may have moved on.

    `covers`: the last position per partition the round answers; a record at or before it is
    answered by the round (it is committed, never applied again).

    `answered`: the last position per partition answered by the rounds before this one (the
    map before it; after it is done: that map merged with `covers`, the larger offset per
    partition). A record at or before it is skipped wherever it comes from (an offset commit
    lost in a crash, a rebalance): each round carries the map, so replacing the stored round
    forgets nothing.

    `outcome`: None until every batch command is final; then stored (the round staged again)
    before the results are sent."""

    round_key: str
    covers: tuple[Position, ...]
    requests: tuple[OfferRequest, ...]  # the valid commands, in the order they arrived
    offers_by_sku: tuple[tuple[str, tuple[str, ...]], ...]  # SKU -> offer ids, as resolved
    commands: tuple[BatchCommand, ...]  # sent in this order (quantity, price, END)
    # offers to re-activate once their quantity is set (ended by the service or for empty
    # stock): the ACTIVATE command is planned after the quantity commands end
    reactivate: tuple[str, ...] = ()
    answered: tuple[Position, ...] = ()
    outcome: RoundOutcome | None = None

    def offer_count(self) -> int:
        """The distinct offers the round changes: what `status` and `/metrics` show pending
        while it is not done."""
        offers = {offer for command in self.commands for offer in command.offer_ids}
        return len(offers | set(self.reactivate))


class OfferStore(Protocol):
    # offer events out
    async def load_offer_cursor(self, account: str) -> OfferCursor | None: ...

    async def load_offer_records(
        self, account: str, offer_ids: Collection[str]
    ) -> Mapping[str, OfferRecord]: ...

    async def stage_offers(self, account: str, batch: StagedOffers) -> None:
        """Durable before it returns; replaces any staged offer batch of the account."""
        ...

    async def load_staged_offers(self, account: str) -> StagedOffers | None: ...

    async def commit_offers(
        self, account: str, cursor: OfferCursor | None, records: Sequence[OfferRecord]
    ) -> None:
        """Cursor (None: unchanged) and records in one transaction, which also deletes the
        staged offer batch."""
        ...

    # inventory in
    async def stage_round(self, account: str, offer_round: OfferRound) -> None:
        """Durable before it returns; replaces the account's round (done or not) and makes
        it not done (the same round staged again with its outcome stays not done)."""
        ...

    async def load_round(self, account: str) -> tuple[OfferRound, bool] | None:
        """The account's last round and whether it is done."""
        ...

    async def finish_round(
        self, account: str, ended: Collection[str], reactivated: Collection[str]
    ) -> None:
        """Mark the round done and, in the same transaction, remember the offers the service
        ended (stock 0) and forget those it re-activated."""
        ...

    async def ended_by_service(self, account: str, offer_ids: Collection[str]) -> set[str]:
        """Which of `offer_ids` the service ended and has not re-activated since."""
        ...
