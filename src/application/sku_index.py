"""Which offers a SKU maps to: Allegro's offers whose `external.id` is the SKU, cached.

Asking Allegro for every round would cost a request per 100 SKUs each time; the mapping
changes rarely (a seller creates or deletes an offer). So the answers are kept, and:
- a SKU not in the cache is asked for; a SKU that had no offer is asked for again, but not
  more often than every `miss_seconds` (a stream of commands for an unknown SKU is answered
  `UNKNOWN_SKU` without a request each time, and an offer created for it is found soon);
- the whole cache is dropped every `ttl_seconds`, so offers added to a known SKU, or moved to
  another SKU, are seen after at most that long;
- it holds at most `max_skus` SKUs (dropped whole beyond that): memory stays bounded
  whatever SKUs arrive.
An outage of the catalog propagates and leaves the cache as it was.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from application.ports.clock import Clock
from application.ports.offers import OfferCatalog
from domain.offers import is_offer_id

TTL_SECONDS = 3600.0
MISS_SECONDS = 60.0
MAX_SKUS = 200_000


class SkuIndex:
    def __init__(
        self,
        catalog: OfferCatalog,
        clock: Clock,
        ttl_seconds: float = TTL_SECONDS,
        miss_seconds: float = MISS_SECONDS,
        max_skus: int = MAX_SKUS,
    ) -> None:
        self._catalog = catalog
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._miss = timedelta(seconds=miss_seconds)
        self._max = max_skus
        self._known: dict[str, tuple[str, ...]] = {}  # SKU -> its offers (at least one)
        # SKU -> the base marketplace all its offers share (absent: unknown, or they differ)
        self._base: dict[str, str] = {}
        self._missed: dict[str, datetime] = {}  # SKU -> when Allegro last had no offer for it
        self._filled_at: datetime | None = None

    async def offers(self, skus: Collection[str]) -> dict[str, tuple[str, ...]]:
        """The offer ids (sorted) of each of `skus`; an empty tuple for a SKU without offers."""
        now = self._clock.now()
        if self._filled_at is None or now - self._filled_at >= self._ttl:
            self._drop(now)
        wanted = sorted(set(skus))
        ask = [sku for sku in wanted if sku not in self._known and self._ask_again(sku, now)]
        if ask:
            await self._fetch(ask, now)
        return {sku: self._known.get(sku, ()) for sku in wanted}

    def base_marketplace(self, sku: str) -> str | None:
        """The base marketplace of the SKU's offers as last listed, when they all share one
        (a SetPrice naming it is the same write as one naming no marketplace)."""
        return self._base.get(sku)

    def _ask_again(self, sku: str, now: datetime) -> bool:
        missed = self._missed.get(sku)
        return missed is None or now - missed >= self._miss

    async def _fetch(self, skus: list[str], now: datetime) -> None:
        listed = await self._catalog.find_by_skus(skus)
        asked = set(skus)
        found: dict[str, set[str]] = {}
        bases: dict[str, set[str | None]] = {}
        for offer in listed:
            # the catalog's answer is Allegro's: only what was asked for, with a real offer id
            if offer.sku in asked and is_offer_id(offer.offer_id):
                found.setdefault(offer.sku, set()).add(offer.offer_id)
                base = offer.prices[0].marketplace if offer.prices else None  # base first
                bases.setdefault(offer.sku, set()).add(base)
        if len(self._known) + len(self._missed) + len(skus) > self._max:
            self._drop(now)
        for sku in skus:
            offers = found.get(sku)
            if offers:
                self._known[sku] = tuple(sorted(offers))
                self._missed.pop(sku, None)
                shared = bases.get(sku, set())
                base = next(iter(shared)) if len(shared) == 1 else None
                if base is None:
                    self._base.pop(sku, None)
                else:
                    self._base[sku] = base
            else:
                self._missed[sku] = now

    def _drop(self, now: datetime) -> None:
        self._known.clear()
        self._base.clear()
        self._missed.clear()
        self._filled_at = now
