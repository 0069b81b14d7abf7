"""Offers: OpenOMS's stock and price commands, Allegro's batch commands that carry them, and the
`OfferChanged` event that tells OpenOMS what an offer looks like on Allegro now
(docs/offers.md).

Everything here is pure and deterministic: a batch command's id is a UUIDv5 over the round it
belongs to and its content, so a batch sent again after a crash carries the same id (Allegro
answers `409`, already used) and no id is ever sent with two contents; an `OfferChanged` id is
a UUIDv5 over the offer, what was published before and what is published now.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from domain.commands import InvalidCommand
from domain.money import Money

OFFER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://openoms.org/integrations/allegro/offers")

MAX_SKU = 100  # Allegro's limit on `external.id`
# Allegro's stock is an int32; a command beyond it is not a stock level.
MAX_STOCK = 2_147_483_647
MAX_OFFERS_PER_COMMAND = 1000  # Allegro's limit per criteria entry of a batch command
# An Allegro marketplace id (`allegro-pl`, `allegro-cz`): the one pattern the Kafka contract,
# Allegro's bodies and the commands check.
MARKETPLACE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
_MARKETPLACE = re.compile(MARKETPLACE_PATTERN)
_OFFER_ID = re.compile(r"^[0-9]{1,20}$")


def is_offer_id(value: object) -> bool:
    """Allegro's offer ids are decimal numbers (`17034458812`)."""
    return isinstance(value, str) and _OFFER_ID.fullmatch(value) is not None


def _check_sku(sku: str) -> None:
    if not sku or len(sku) > MAX_SKU or sku != sku.strip():
        raise InvalidCommand(f"sku must be 1..{MAX_SKU} characters without surrounding spaces")


@dataclass(frozen=True, slots=True)
class SetStock:
    command_type: ClassVar[str] = "SetStock"

    command_id: uuid.UUID
    account: str
    sku: str
    available: int

    def __post_init__(self) -> None:
        _check_sku(self.sku)
        if isinstance(self.available, bool) or not 0 <= self.available <= MAX_STOCK:
            raise InvalidCommand(f"available must be an integer 0..{MAX_STOCK}")


@dataclass(frozen=True, slots=True)
class SetPrice:
    command_type: ClassVar[str] = "SetPrice"

    command_id: uuid.UUID
    account: str
    sku: str
    price: Money
    marketplace: str | None = None  # None: the offer's base marketplace

    def __post_init__(self) -> None:
        _check_sku(self.sku)
        if self.price.amount <= 0:
            raise InvalidCommand("amount must be above zero")
        if self.price.amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise InvalidCommand("amount must have at most 2 digits after the point")
        if self.marketplace is not None and not _MARKETPLACE.fullmatch(self.marketplace):
            raise InvalidCommand("marketplace must be an Allegro marketplace id (allegro-pl)")


OfferCommand = SetStock | SetPrice


class BatchKind(StrEnum):
    QUANTITY = "quantity"  # PUT /sale/offer-quantity-change-commands/{id}, FIXED
    PRICE = "price"  # PUT /sale/offer-price-change-commands/{id}, FIXED_PRICE
    PUBLICATION = "publication"  # PUT /sale/offer-publication-commands/{id}, END / ACTIVATE


class PublicationAction(StrEnum):
    END = "END"
    ACTIVATE = "ACTIVATE"


@dataclass(frozen=True, slots=True)
class BatchCommand:
    """One of Allegro's batch commands: one modification for up to 1 000 offers.

    Exactly one of `quantity` (QUANTITY, >= 1: Allegro refuses a FIXED 0), `price` (PRICE,
    with `marketplace`, None for the base one) and `action` (PUBLICATION) is set."""

    kind: BatchKind
    command_id: uuid.UUID
    offer_ids: tuple[str, ...]  # sorted, unique, 1..MAX_OFFERS_PER_COMMAND
    quantity: int | None = None
    price: Money | None = None
    marketplace: str | None = None
    action: PublicationAction | None = None

    @classmethod
    def build(
        cls,
        account: str,
        round_key: str,
        kind: BatchKind,
        offer_ids: Iterable[str],
        *,
        quantity: int | None = None,
        price: Money | None = None,
        marketplace: str | None = None,
        action: PublicationAction | None = None,
    ) -> BatchCommand:
        """The command with its id: UUIDv5 over the account, the round (`round_key`: which
        records of the command topic it answers) and the content. The same round planned
        again gives the same ids; the same content in a later round gets a new id, so a
        value set again after it moved is applied again, not refused as already used."""
        ids = tuple(sorted(set(offer_ids)))
        content = canonical_content(kind, ids, quantity, price, marketplace, action)
        name = "|".join((account, round_key, content))
        return cls(
            kind=kind,
            command_id=uuid.uuid5(OFFER_NAMESPACE, name),
            offer_ids=ids,
            quantity=quantity,
            price=price,
            marketplace=marketplace,
            action=action,
        )

    def __post_init__(self) -> None:
        if not 1 <= len(self.offer_ids) <= MAX_OFFERS_PER_COMMAND:
            raise ValueError(f"a batch command holds 1..{MAX_OFFERS_PER_COMMAND} offers")
        wanted = {
            BatchKind.QUANTITY: self.quantity is not None,
            BatchKind.PRICE: self.price is not None,
            BatchKind.PUBLICATION: self.action is not None,
        }
        if not wanted[self.kind] or sum(wanted.values()) != 1:
            raise ValueError(f"a {self.kind} command carries exactly its own modification")
        if self.quantity is not None and not 1 <= self.quantity <= MAX_STOCK:
            raise ValueError("a FIXED quantity is 1..MAX_STOCK (Allegro refuses 0)")

    @property
    def content(self) -> str:
        """What the id is derived from besides the account and the round."""
        return canonical_content(
            self.kind, self.offer_ids, self.quantity, self.price, self.marketplace, self.action
        )


def canonical_content(
    kind: BatchKind,
    offer_ids: tuple[str, ...],
    quantity: int | None,
    price: Money | None,
    marketplace: str | None,
    action: PublicationAction | None,
) -> str:
    if kind is BatchKind.QUANTITY:
        modification = f"FIXED={quantity}"
    elif kind is BatchKind.PRICE:
        assert price is not None
        modification = (
            f"FIXED_PRICE={price.amount.normalize():f} {price.currency}@{marketplace or ''}"
        )
    else:
        modification = f"{action}"
    return f"{kind}|{modification}|{','.join(offer_ids)}"


# --- what Allegro says an offer is now ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarketPrice:
    marketplace: str
    price: Money


@dataclass(frozen=True, slots=True)
class OfferSnapshot:
    """An offer as Allegro shows it now (`GET /sale/product-offers/{id}`)."""

    offer_id: str
    sku: str | None
    stock_available: int | None  # None: Allegro shows no stock (nullable in its schema)
    prices: tuple[MarketPrice, ...]  # the base marketplace first, then the others by id
    publication_status: str  # INACTIVE, ACTIVATING, ACTIVE, ENDED (unknown ones kept)
    ended_by: str | None  # USER, ADMIN, EXPIRATION, EMPTY_STOCK, ... (None unless ended)
    updated_at: datetime

    def values(self) -> str:
        """What a listing of offers shows too (`GET /sale/offers`): compared by a sweep to
        what was last published, without reading each offer. `ended_by` is not in it (the
        listing has no `endedBy`)."""
        return offer_values(self.sku, self.stock_available, self.prices, self.publication_status)


def offer_values(
    sku: str | None,
    stock_available: int | None,
    prices: Iterable[MarketPrice],
    publication_status: str,
) -> str:
    """Canonical text of an offer's published values (order of prices does not matter)."""
    priced = ";".join(
        sorted(f"{p.marketplace}={p.price.amount.normalize():f} {p.price.currency}" for p in prices)
    )
    stock = "" if stock_available is None else str(stock_available)
    return f"1|{sku or ''}|{stock}|{publication_status}|{priced}"


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """What was last published for an offer: the next decision compares against it."""

    offer_id: str
    values: str  # `offer_values` of what was published
    ended_by: str | None
    publication_status: str


@dataclass(frozen=True, slots=True)
class OfferChanged:
    event_type: ClassVar[str] = "OfferChanged"

    event_id: uuid.UUID
    occurred_at: datetime  # the offer's `updatedAt`: the same read gives the same bytes
    account: str
    offer_id: str
    sku: str | None
    stock_available: int | None
    prices: tuple[MarketPrice, ...]
    publication_status: str
    ended_by: str | None


def decide_offer(
    account: str, snapshot: OfferSnapshot, record: OfferRecord | None, trigger: str
) -> tuple[OfferChanged | None, OfferRecord]:
    """`OfferChanged` when what is published differs from the last publication (several
    Allegro events for one change, and duplicated events, publish once), and the record to
    keep. `trigger`: the Allegro offer event that revealed it, or "sweep"; it is part of the
    id so that an offer that returns to an earlier state is published again under a new id."""
    new = OfferRecord(
        offer_id=snapshot.offer_id,
        values=snapshot.values(),
        ended_by=snapshot.ended_by,
        publication_status=snapshot.publication_status,
    )
    if record is not None and (record.values, record.ended_by) == (new.values, new.ended_by):
        return None, record
    before = "" if record is None else f"{record.values}|{record.ended_by or ''}"
    name = "|".join(
        (
            account,
            snapshot.offer_id,
            "OfferChanged",
            before,
            new.values,
            new.ended_by or "",
            trigger,
        )
    )
    event = OfferChanged(
        event_id=uuid.uuid5(OFFER_NAMESPACE, name),
        occurred_at=snapshot.updated_at,
        account=account,
        offer_id=snapshot.offer_id,
        sku=snapshot.sku,
        stock_available=snapshot.stock_available,
        prices=snapshot.prices,
        publication_status=snapshot.publication_status,
        ended_by=snapshot.ended_by,
    )
    return event, new


# Offers Allegro ended because their stock ran out: stock coming back re-activates them, as
# it does the offers the service ended itself for a stock of 0.
REACTIVATED_ENDINGS = frozenset({"EMPTY_STOCK"})


@dataclass(frozen=True, slots=True)
class OfferRequest:
    """One valid offer command of a round, with the time its result carries."""

    command: OfferCommand
    at: datetime
