"""Allegro's batch offer commands: quantity, price and publication changes.

A `PUT` registers a command (its first report is all zeros); the tasks run later on the
simulated clock (`OfferDesk` settles them), one per offer. Parsing is strict and bounded:
the body is untrusted. Where Allegro documents nothing the simulator chooses; the choices
are listed in docs/allegro-api.md (What the simulator reproduces, Offers).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.allegro.errors import ErrorBody, errors_holder, validation_error
from sandbox.allegro.forms import Json
from sandbox.allegro.offers import (
    BASE_MARKETPLACE,
    CURRENCIES,
    MAX_STOCK,
    Offer,
    OfferBook,
    OfferRejected,
    parse_amount,
)
from sandbox.allegro.timefmt import iso_millis

KINDS = ("quantity", "price", "publication")
# The field each kind changes, as a task reports it.
FIELDS = {"quantity": "stock.available", "price": "sellingMode.price", "publication": "publication"}
MAX_OFFERS_PER_CRITERION = 1000
MAX_CRITERIA = 100  # the simulator's bound: Allegro states none
MAX_BODY_BYTES = 4 * 1024 * 1024
_OFFER_ID_MAX = 20


class CommandRejected(Exception):
    """Allegro's synchronous refusal of a write (a command PUT, a PATCH): status plus
    `errors` body."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(body["errors"][0]["message"])
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class QuantityChange:
    change_type: str  # FIXED or GAIN
    value: int


@dataclass(frozen=True, slots=True)
class PriceChange:
    marketplace: str  # the base marketplace when the body names none
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PublicationChange:
    action: str  # END or ACTIVATE


Change = QuantityChange | PriceChange | PublicationChange


def _invalid(message: str, path: str) -> CommandRejected:
    return CommandRejected(422, validation_error(message, path))


def parse_body(raw: bytes) -> Any:
    if len(raw) > MAX_BODY_BYTES:
        raise CommandRejected(413, errors_holder("PAYLOAD_TOO_LARGE", "Request body too large"))
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise CommandRejected(400, errors_holder("BAD_REQUEST", "Malformed JSON body")) from None
    if not isinstance(body, dict):
        raise CommandRejected(400, errors_holder("BAD_REQUEST", "Expected a JSON object"))
    return body


def digest(raw: bytes) -> str:
    """What a command said, independent of key order and spacing (raw bytes if not JSON)."""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_command(kind: str, body: dict[str, Any]) -> tuple[Change, tuple[str, ...]]:
    if kind == "quantity":
        change: Change = _quantity(body.get("modification"))
    elif kind == "price":
        change = _price(body.get("modification"))
    else:
        change = _publication(body.get("publication"))
    return change, _offer_ids(body.get("offerCriteria"))


def _quantity(modification: object) -> QuantityChange:
    if not isinstance(modification, dict):
        raise _invalid("modification is required", "modification")
    change_type = modification.get("changeType")
    if change_type not in ("FIXED", "GAIN"):
        raise _invalid("changeType must be FIXED or GAIN", "modification.changeType")
    value = modification.get("value")
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_STOCK:
        raise _invalid(f"value must be an integer within ±{MAX_STOCK}", "modification.value")
    if change_type == "FIXED" and value < 1:
        body = errors_holder(
            "INCORRECT_QUANTITY_VALUE",
            "The quantity can not be changed to less than 1.",
            path="modification.value",
        )
        raise CommandRejected(422, body)
    return QuantityChange(change_type, value)


def _price(modification: object) -> PriceChange:
    if not isinstance(modification, dict):
        raise _invalid("modification is required", "modification")
    kind = modification.get("type")
    if kind in ("INCREASE_PRICE", "DECREASE_PRICE", "INCREASE_PERCENTAGE", "DECREASE_PERCENTAGE"):
        raise _invalid(f"{kind} is not supported by the simulator", "modification.type")
    if kind != "FIXED_PRICE":
        raise _invalid("type must be FIXED_PRICE", "modification.type")
    marketplace = modification.get("marketplaceId")
    if marketplace is None:
        marketplace = BASE_MARKETPLACE
    if marketplace not in CURRENCIES:
        raise _invalid("Unknown marketplace", "modification.marketplaceId")
    price = modification.get("price")
    if not isinstance(price, dict):
        raise _invalid("price is required", "modification.price")
    try:
        amount = parse_amount(price.get("amount"))
    except ValueError as exc:
        raise _invalid(str(exc), "modification.price.amount") from None
    if price.get("currency") != CURRENCIES[marketplace]:
        message = f"The currency on {marketplace} is {CURRENCIES[marketplace]}"
        raise _invalid(message, "modification.price.currency")
    return PriceChange(marketplace, amount)


def _publication(publication: object) -> PublicationChange:
    if not isinstance(publication, dict) or publication.get("action") not in ("END", "ACTIVATE"):
        raise _invalid("action must be END or ACTIVATE", "publication.action")
    return PublicationChange(str(publication["action"]))


def _offer_ids(criteria: object) -> tuple[str, ...]:
    if not isinstance(criteria, list) or not 1 <= len(criteria) <= MAX_CRITERIA:
        raise _invalid(f"offerCriteria must list 1 to {MAX_CRITERIA} criteria", "offerCriteria")
    ids: dict[str, None] = {}  # an offer named twice gets one task
    for n, criterion in enumerate(criteria):
        path = f"offerCriteria[{n}]"
        if not isinstance(criterion, dict) or criterion.get("type") != "CONTAINS_OFFERS":
            raise _invalid("type must be CONTAINS_OFFERS", f"{path}.type")
        offers = criterion.get("offers")
        if not isinstance(offers, list) or not 1 <= len(offers) <= MAX_OFFERS_PER_CRITERION:
            message = f"offers must list 1 to {MAX_OFFERS_PER_CRITERION} offers"
            raise _invalid(message, f"{path}.offers")
        for offer in offers:
            offer_id = offer.get("id") if isinstance(offer, dict) else None
            if not isinstance(offer_id, str) or not 0 < len(offer_id) <= _OFFER_ID_MAX:
                raise _invalid("Each offer needs an id", f"{path}.offers")
            ids[offer_id] = None
    return tuple(ids)


# ----------------------------------------------------------------- running


def new_task(offer_id: str, kind: str) -> Json:
    return {
        "offer": {"id": offer_id},
        "field": FIELDS[kind],
        "status": "NEW",
        "message": None,
        "errors": [],
    }


def failed(task: Json, code: str, message: str) -> Json:
    error = errors_holder(code, message)["errors"][0]
    return {**task, "status": "FAIL", "message": message, "errors": [error]}


def apply(book: OfferBook, offer: Offer, change: Change, now_us: int) -> None:
    """One task's effect; OfferRejected when the offer's state refuses it."""
    if isinstance(change, QuantityChange):
        value = change.value
        if change.change_type == "GAIN":
            value += offer.available
        if value < 1:
            raise OfferRejected(
                "INVALID_OFFER_QUANTITY", "The quantity can not be changed to less than 1."
            )
        # An ENDED offer takes the quantity and stays ENDED (restock, then ACTIVATE).
        book.set_stock(offer, value, now_us)
    elif isinstance(change, PriceChange):
        book.set_price(offer, change.marketplace, change.amount, now_us)
    elif change.action == "END":
        book.end(offer, "USER", now_us)
    else:
        book.activate(offer, now_us)


@dataclass(slots=True)
class Command:
    id: str
    kind: str
    change: Change
    offer_ids: tuple[str, ...]
    created_us: int
    due_us: int
    tasks: list[Json] | None = None  # None until the command has run
    completed_us: int | None = None

    def report(self) -> Json:
        """`GeneralReport`: all zeros until the tasks have run."""
        tasks = self.tasks or []
        success = sum(1 for task in tasks if task["status"] == "SUCCESS")
        failures = sum(1 for task in tasks if task["status"] == "FAIL")
        return {
            "id": self.id,
            "createdAt": iso_millis(self.created_us),
            "completedAt": iso_millis(self.completed_us) if self.completed_us else None,
            "taskCount": {"total": len(tasks), "success": success, "failed": failures},
        }

    def task_page(self, offset: int, limit: int) -> list[Json]:
        if self.tasks is None:  # scheduled, not run: every task NEW
            ids = self.offer_ids[offset : offset + limit]
            return [new_task(offer_id, self.kind) for offer_id in ids]
        return [dict(task) for task in self.tasks[offset : offset + limit]]


@dataclass(frozen=True, slots=True)
class CommandPut:
    """One `PUT` that reached a command resource, whatever its answer."""

    command_id: str
    kind: str
    digest: str
    offers: int  # offer ids named (0 if the body could not be read)
    status: int
    at: str

    def to_json(self) -> Json:
        return {
            "commandId": self.command_id,
            "kind": self.kind,
            "digest": self.digest,
            "offers": self.offers,
            "status": self.status,
            "at": self.at,
        }


class ChangeBudget:
    """A per-user limit on offer changes: at most `limit` in any sliding `seconds`."""

    def __init__(self, limit: int, seconds: float) -> None:
        self._limit = limit
        self._seconds = seconds
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0

    def allows(self, changes: int, now: float) -> bool:
        while self._spent and self._spent[0][0] <= now - self._seconds:
            self._total -= self._spent.popleft()[1]
        return self._total + changes <= self._limit

    def spend(self, changes: int, now: float) -> None:
        self._spent.append((now, changes))
        self._total += changes
