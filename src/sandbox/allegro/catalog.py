"""The seller's offers: what buyers put in their carts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sandbox.allegro.ids import IdFactory
from sandbox.allegro.locales import Locale

_CENT = Decimal("0.01")
_WHOLE_CURRENCIES = frozenset({"CZK", "HUF"})  # priced in whole units in practice

# (name, PLN price, SKU prefix); a missing prefix means the seller set no external id.
_PRODUCTS: tuple[tuple[str, str, str | None], ...] = (
    ("Konewka ogrodowa 10 l zielona z sitkiem", "39.99", "KON"),
    ("Sekator nożycowy 20 cm stal hartowana", "59.00", "SEK"),
    ("Kubek termiczny 450 ml czarny", "49.90", "KUB"),
    ("Ładowarka sieciowa USB-C 65 W GaN", "119.00", "LAD"),
    ("Słuchawki bezprzewodowe douszne ANC", "229.99", None),
    ("Plecak miejski 25 l szary wodoodporny", "149.00", "PLE"),
    ("Lampka biurkowa LED z regulacją barwy", "89.99", "LAM"),
    ("Kabel HDMI 2.1 8K 2 m", "29.99", None),
    ("Zestaw kluczy nasadowych 46 el. 1/4", "79.00", "KLU"),
    ("Koc polarowy 150x200 cm grafitowy", "45.00", "KOC"),
    ("Poduszka ortopedyczna z pianki memory", "99.00", None),
    ("Mata do jogi 6 mm antypoślizgowa", "59.99", "MAT"),
    ("Bidon sportowy 750 ml bez BPA", "24.99", "BID"),
    ("Rękawice robocze nitrylowe rozm. 9", "12.50", None),
    ("Doniczka ceramiczna 14 cm biała", "19.99", "DON"),
    ("Czajnik elektryczny 1,7 l stalowy", "139.00", "CZA"),
)


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    name: str
    price_pln: Decimal
    sku: str | None


class Catalog:
    def __init__(self, rng: random.Random, ids: IdFactory, size: int = 64) -> None:
        self._offers: list[Offer] = []
        for index in range(size):
            name, price, prefix = _PRODUCTS[index % len(_PRODUCTS)]
            variant = index // len(_PRODUCTS)
            sku = f"{prefix}-{rng.randrange(100, 1000)}-{variant}" if prefix else None
            self._offers.append(Offer(ids.offer_id(), name, Decimal(price), sku))
        self._rng = rng

    def pick(self) -> Offer:
        return self._rng.choice(self._offers)

    @staticmethod
    def local_price(offer_price_pln: Decimal, locale: Locale) -> Decimal:
        value = offer_price_pln * locale.price_factor
        if locale.currency in _WHOLE_CURRENCIES:
            return value.quantize(Decimal(1), rounding=ROUND_HALF_UP).quantize(_CENT)
        return value.quantize(_CENT, rounding=ROUND_HALF_UP)
