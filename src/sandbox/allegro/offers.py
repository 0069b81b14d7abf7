"""The seller's offers: stock, prices per marketplace, publication, and their wire shapes.

Not thread-safe on its own; `SimulatorState` holds the lock. Every change goes through
`OfferBook`, which emits the offer events Allegro would (the journal covers only active
and activating offers; docs/allegro-api.md, What the simulator reproduces, Offers).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sandbox.allegro.forms import Json
from sandbox.allegro.offer_events import OfferJournal
from sandbox.allegro.timefmt import iso_millis

BASE_MARKETPLACE = "allegro-pl"
# The currency of each marketplace is fixed (PLN, CZK, EUR; HUF inferred).
CURRENCIES = {
    "allegro-pl": "PLN",
    "allegro-cz": "CZK",
    "allegro-sk": "EUR",
    "allegro-hu": "HUF",
    "allegro-business-cz": "CZK",
}
STATUSES = ("INACTIVE", "ACTIVATING", "ACTIVE", "ENDED")
ENDED_BY = ("USER", "ADMIN", "EXPIRATION", "EMPTY_STOCK", "PRODUCT_DETACHMENT", "ERROR")
# Events concern only these offers (OFFER_ARCHIVED aside).
JOURNALLED = frozenset({"ACTIVE", "ACTIVATING"})
MAX_STOCK = 1_000_000  # the simulator's bound; Allegro publishes none
MAX_AMOUNT = Decimal("100000000")
# Rough exchange rates for seeded prices on additional marketplaces: illustrations only.
_RATES = {"PLN": Decimal(1), "CZK": Decimal("5.8"), "EUR": Decimal("0.23"), "HUF": Decimal(90)}
_CENT = Decimal("0.01")
_WORDS = (
    "Konewka ogrodowa",
    "Sekator nożycowy",
    "Kubek termiczny",
    "Lampka biurkowa",
    "Plecak miejski",
    "Zestaw kluczy",
    "Koc piknikowy",
    "Czajnik elektryczny",
)


class OfferNotFound(KeyError):
    pass


class OfferRejected(ValueError):
    """An action the offer's state does not allow (a task FAIL, an admin 409)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_amount(raw: object) -> Decimal:
    """A price as Allegro takes it: a decimal string, positive, at most two decimals."""
    if not isinstance(raw, str) or len(raw) > 20:
        raise ValueError("amount must be a decimal string")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise ValueError("amount must be a decimal string") from None
    if not amount.is_finite() or amount <= 0 or amount >= MAX_AMOUNT:
        raise ValueError("amount must be positive and below 100000000")
    if amount != amount.quantize(_CENT):
        raise ValueError("amount must have at most two decimal places")
    return amount


def money(amount: Decimal, currency: str) -> Json:
    return {"amount": f"{amount:.2f}", "currency": currency}


@dataclass(slots=True)
class Offer:
    id: str
    name: str
    sku: str | None
    available: int
    prices: dict[str, Decimal]  # marketplace -> amount; the base marketplace always present
    status: str
    created_us: int
    updated_us: int
    category: str
    sold: int = 0
    ended_by: str | None = None
    started_us: int | None = None
    ended_us: int | None = None

    @property
    def additional(self) -> list[str]:
        return [mp for mp in self.prices if mp != BASE_MARKETPLACE]


@dataclass(frozen=True, slots=True)
class OfferSpec:
    """What a seeded offer looks like; None fields are drawn at random."""

    id: str | None = None
    name: str | None = None
    sku: str | None = None
    stock: int | None = None
    price: Decimal | None = None
    status: str = "ACTIVE"
    marketplaces: dict[str, Decimal | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OfferQuery:
    offer_ids: frozenset[str] = frozenset()
    skus: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    marketplace: str | None = None
    name: str | None = None
    sort: str | None = None  # one of SORTS; None: creation time, newest first
    offset: int = 0
    limit: int = 20


_SORT_KEYS: dict[str, Callable[[Offer], Decimal | int]] = {
    "sellingMode.price.amount": lambda offer: offer.prices[BASE_MARKETPLACE],
    "stock.sold": lambda offer: offer.sold,
    "stock.available": lambda offer: offer.available,
}
SORTS = frozenset([*_SORT_KEYS, *(f"-{key}" for key in _SORT_KEYS)])


class OfferBook:
    def __init__(self, seed: int, journal: OfferJournal) -> None:
        self._rng = random.Random(seed + 3)  # its own: offers must not shift the order data
        self._journal = journal
        self._offers: dict[str, Offer] = {}  # in creation order
        self._by_sku: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return len(self._offers)

    # ----------------------------------------------------------------- creation

    def check(self, specs: Sequence[OfferSpec]) -> None:
        """ValueError naming the first spec `add` would refuse; nothing changes."""
        ids = [spec.id for spec in specs if spec.id is not None]
        if len(set(ids)) != len(ids):
            raise ValueError("an offer id is given twice")
        for spec in specs:
            _check(spec)
            if spec.id is not None and spec.id in self._offers:
                raise ValueError(f"offer {spec.id} already exists")

    def add(self, spec: OfferSpec, now_us: int, *, emit: bool = False) -> Offer:
        """A new offer; `emit`: an active one is announced (OFFER_ACTIVATED), as when the
        seller lists it while the service watches, rather than found already listed."""
        self.check([spec])
        offer_id = spec.id or self._new_id()
        stock = spec.stock if spec.stock is not None else self._rng.randint(1, 50)
        base = spec.price or Decimal(self._rng.randint(500, 50000)) / 100
        prices = {BASE_MARKETPLACE: base}
        for marketplace, price in spec.marketplaces.items():
            prices[marketplace] = price or _converted(base, CURRENCIES[marketplace])
        empty = spec.status == "ACTIVE" and stock == 0
        status = "ENDED" if empty else spec.status
        offer = Offer(
            id=offer_id,
            name=spec.name or f"{self._rng.choice(_WORDS)} {offer_id[-4:]}",
            sku=spec.sku,
            available=stock,
            prices=prices,
            status=status,
            created_us=now_us,
            updated_us=now_us,
            category=str(self._rng.randint(1000, 320000)),
            ended_by=("EMPTY_STOCK" if empty else "USER") if status == "ENDED" else None,
            started_us=now_us if status in ("ACTIVE", "ENDED") else None,
            ended_us=now_us if status == "ENDED" else None,
        )
        self._offers[offer_id] = offer
        if offer.sku is not None:
            self._by_sku.setdefault(offer.sku, []).append(offer_id)
        if emit and status == "ACTIVE":
            self._emit(offer, "OFFER_ACTIVATED", now_us)
        return offer

    def seed(
        self, count: int, skus: int, marketplaces: Sequence[str], seed: int, now_us: int
    ) -> list[str]:
        """`count` active offers over `skus` SKUs (every SKU used once the count allows;
        the rest share SKUs at random), priced on the base and the given marketplaces."""
        rng = random.Random(seed)
        names = [f"SKU-{seed}-{n:05d}" for n in range(max(skus, 1))]
        ids = []
        for n in range(count):
            sku = names[n] if n < len(names) else rng.choice(names)
            spec = OfferSpec(
                id=self._new_id(rng),
                sku=sku,
                stock=rng.randint(1, 50),
                price=Decimal(rng.randint(500, 50000)) / 100,
                marketplaces=dict.fromkeys(marketplaces),
            )
            ids.append(self.add(spec, now_us).id)
        return ids

    def _new_id(self, rng: random.Random | None = None) -> str:
        while True:
            candidate = str((rng or self._rng).randrange(10_000_000_000, 20_000_000_000))
            if candidate not in self._offers:
                return candidate

    # ----------------------------------------------------------------- reading

    def get(self, offer_id: str) -> Offer:
        offer = self._offers.get(offer_id)
        if offer is None:
            raise OfferNotFound(offer_id)
        return offer

    def find(self, offer_id: str) -> Offer | None:
        return self._offers.get(offer_id)

    def ids(self) -> list[str]:
        return list(self._offers)

    def search(self, query: OfferQuery) -> tuple[list[Offer], int]:
        """Newest first (Allegro's default: creation time descending), ties by the reverse
        order of creation, so pages never overlap while nothing is added; `sort` orders by
        a field first, ties as above."""
        if query.skus:
            found = {i for sku in query.skus for i in self._by_sku.get(sku, ())}
            candidates: Iterable[Offer] = (
                self._offers[i] for i in reversed(self._offers) if i in found
            )
        else:
            candidates = (self._offers[i] for i in reversed(self._offers))
        name = query.name.lower() if query.name else None
        matching = [
            offer
            for offer in candidates
            if (not query.offer_ids or offer.id in query.offer_ids)
            and (not query.statuses or offer.status in query.statuses)
            and (query.marketplace is None or query.marketplace in offer.prices)
            and (name is None or name in offer.name.lower())
        ]
        matching.sort(key=lambda offer: -offer.created_us)  # stable: creation order kept
        if query.sort is not None:
            key = _SORT_KEYS[query.sort.removeprefix("-")]
            matching.sort(key=key, reverse=query.sort.startswith("-"))
        return matching[query.offset : query.offset + query.limit], len(matching)

    # ----------------------------------------------------------------- changes

    def set_stock(self, offer: Offer, value: int, now_us: int) -> None:
        """A new quantity. 0 on an active offer ends it (EMPTY_STOCK), as Allegro does when
        the last item sells or a single-offer edit sets 0."""
        if not 0 <= value <= MAX_STOCK:
            raise OfferRejected("INVALID_OFFER_QUANTITY", f"Quantity must be within 0..{MAX_STOCK}")
        if value == offer.available:
            return
        offer.available = value
        offer.updated_us = now_us
        self._emit(offer, "OFFER_STOCK_CHANGED", now_us)
        if value == 0 and offer.status in JOURNALLED:
            self.end(offer, "EMPTY_STOCK", now_us)

    def sell(self, offer: Offer, quantity: int, now_us: int) -> None:
        if offer.status != "ACTIVE":
            raise OfferRejected("OFFER_NOT_ACTIVE", "Only an active offer can be bought")
        if not 1 <= quantity <= offer.available:
            raise OfferRejected("INVALID_QUANTITY", f"Quantity must be within 1..{offer.available}")
        offer.sold += quantity
        self.set_stock(offer, offer.available - quantity, now_us)

    def set_price(self, offer: Offer, marketplace: str, amount: Decimal, now_us: int) -> None:
        if marketplace not in offer.prices:
            raise OfferRejected(
                "MARKETPLACE_NOT_AVAILABLE",
                f"The offer is not offered on the marketplace {marketplace}.",
            )
        if offer.prices[marketplace] == amount:
            return
        offer.prices[marketplace] = amount
        offer.updated_us = now_us
        # One change, two events: the price event and the generic one (Allegro says one
        # change may produce several events).
        self._emit(offer, "OFFER_PRICE_CHANGED", now_us, marketplace=marketplace)
        self._emit(offer, "OFFER_CHANGED", now_us)

    def end(self, offer: Offer, ended_by: str, now_us: int) -> None:
        if offer.status == "ENDED":
            return
        if offer.status == "INACTIVE":
            raise OfferRejected("OFFER_NOT_PUBLISHED", "A draft (INACTIVE) offer cannot be ended.")
        self._emit(offer, "OFFER_ENDED", now_us, ended_by=ended_by)
        offer.status = "ENDED"
        offer.ended_by = ended_by
        offer.ended_us = now_us
        offer.updated_us = now_us

    def activate(self, offer: Offer, now_us: int) -> None:
        if offer.status == "ACTIVE":
            return
        if offer.available < 1:
            raise OfferRejected(
                "OFFER_STOCK_EMPTY", "The offer cannot be activated: its quantity is 0."
            )
        offer.status = "ACTIVE"
        offer.ended_by = None
        offer.ended_us = None
        offer.started_us = now_us
        offer.updated_us = now_us
        self._emit(offer, "OFFER_ACTIVATED", now_us)

    def _emit(
        self,
        offer: Offer,
        event_type: str,
        now_us: int,
        *,
        marketplace: str | None = None,
        ended_by: str | None = None,
    ) -> None:
        if offer.status not in JOURNALLED:
            return
        external = {"id": offer.sku} if offer.sku is not None else None
        payload: Json = {"id": offer.id, "external": external}
        if event_type == "OFFER_ENDED":
            payload["publication"] = {"endedBy": ended_by}
        if event_type == "OFFER_PRICE_CHANGED":
            payload["marketplaces"] = [{"id": marketplace, "changeType": "MANUAL"}]
        self._journal.append(event_type, payload, now_us)


def _check(spec: OfferSpec) -> None:
    if spec.id is not None and (not spec.id.isdigit() or len(spec.id) > 20):
        raise ValueError("an offer id is a string of at most 20 digits")
    if spec.status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    if spec.stock is not None and not 0 <= spec.stock <= MAX_STOCK:
        raise ValueError(f"stock must be within 0..{MAX_STOCK}")
    if spec.sku is not None and not 0 < len(spec.sku) <= 100:
        raise ValueError("sku must be 1 to 100 characters")
    if spec.name is not None and not 0 < len(spec.name) <= 200:
        raise ValueError("name must be 1 to 200 characters")
    for marketplace in spec.marketplaces:
        if marketplace == BASE_MARKETPLACE or marketplace not in CURRENCIES:
            raise ValueError(f"unknown additional marketplace {marketplace!r}")


def _converted(base: Decimal, currency: str) -> Decimal:
    return max((base * _RATES[currency]).quantize(_CENT), _CENT)


# ----------------------------------------------------------------- wire shapes


def _publication_marketplaces(offer: Offer) -> Json:
    return {
        "base": {"id": BASE_MARKETPLACE},
        "additional": [{"id": mp} for mp in offer.additional],
    }


def _optional_time(us: int | None) -> str | None:
    return iso_millis(us) if us is not None else None


def listing(offer: Offer) -> Json:
    """`OfferListingDto`, as `GET /sale/offers` lists it (no endedBy there)."""
    base_currency = CURRENCIES[BASE_MARKETPLACE]
    return {
        "id": offer.id,
        "name": offer.name,
        "category": {"id": offer.category},
        "primaryImage": {"url": f"https://a.allegroimg.com/original/{offer.id}"},
        "sellingMode": {
            "format": "BUY_NOW",
            "price": money(offer.prices[BASE_MARKETPLACE], base_currency),
            "priceAutomation": None,
        },
        "saleInfo": {"currentPrice": None, "biddersCount": 0},
        "stock": {"available": offer.available, "sold": offer.sold},
        "stats": None,
        "publication": {
            "status": offer.status,
            "startingAt": None,
            "startedAt": _optional_time(offer.started_us),
            "endingAt": None,
            "endedAt": _optional_time(offer.ended_us),
            "marketplaces": _publication_marketplaces(offer),
        },
        "afterSalesServices": None,
        "additionalServices": None,
        "external": {"id": offer.sku} if offer.sku is not None else None,
        "delivery": {"shippingRates": None},
        "b2b": {"buyableOnlyByBusiness": False},
        "fundraisingCampaign": None,
        "isFulfillment": False,
        "additionalMarketplaces": {
            mp: {
                "publication": {"state": "APPROVED"},
                "sellingMode": {"price": money(offer.prices[mp], CURRENCIES[mp])},
                "stats": None,
                "stock": {"sold": 0},
            }
            for mp in offer.additional
        },
    }


def full(offer: Offer) -> Json:
    """`SaleProductOfferResponseV1`, the fields an integration reads."""
    return {
        "id": offer.id,
        "name": offer.name,
        "category": {"id": offer.category},
        "external": {"id": offer.sku} if offer.sku is not None else None,
        "stock": {"available": offer.available, "unit": "UNIT"},
        "sellingMode": {
            "format": "BUY_NOW",
            "price": money(offer.prices[BASE_MARKETPLACE], CURRENCIES[BASE_MARKETPLACE]),
            "minimalPrice": None,
            "startingPrice": None,
        },
        "publication": {
            "status": offer.status,
            "duration": None,
            "startingAt": None,
            "endingAt": None,
            "endedBy": offer.ended_by,
            "republish": False,
            "marketplaces": _publication_marketplaces(offer),
        },
        "additionalMarketplaces": {
            mp: {
                "sellingMode": {"price": money(offer.prices[mp], CURRENCIES[mp])},
                "publication": {"state": "APPROVED", "refusalReasons": []},
            }
            for mp in offer.additional
        },
        "language": "pl-PL",
        "validation": {"errors": [], "warnings": [], "validatedAt": iso_millis(offer.updated_us)},
        "createdAt": iso_millis(offer.created_us),
        "updatedAt": iso_millis(offer.updated_us),
    }
