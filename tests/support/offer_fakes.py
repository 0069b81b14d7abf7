"""The one fake of `OfferCatalog`: Allegro's offer listing as the port sees it.

`offers` is the seller's offer list in Allegro's stable order; tests change it directly.
Set `fail_with` to make every call raise it (an outage, e.g. `AllegroUnavailable("503")`).
`calls` counts what was asked, as requests would be counted (100 SKUs per `find_by_skus`
request, as Allegro allows).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from application.ports.offers import ListedOffer, OfferCatalog, OfferPage
from domain.money import Money
from domain.offers import MarketPrice

SKUS_PER_REQUEST = 100
BASE_MARKETPLACE = "allegro-pl"


def listed(
    offer_id: str,
    sku: str | None,
    stock: int | None = 10,
    price: str = "10.00",
    status: str = "ACTIVE",
    extra_prices: Iterable[tuple[str, str, str]] = (),
) -> ListedOffer:
    """A listed offer with a PLN price on the base marketplace, and `(marketplace, amount,
    currency)` for the others."""
    prices = (
        MarketPrice(BASE_MARKETPLACE, Money.parse(price, "PLN")),
        *(
            MarketPrice(marketplace, Money.parse(amount, currency))
            for marketplace, amount, currency in extra_prices
        ),
    )
    return ListedOffer(offer_id, sku, stock, prices, status)


class FakeOfferCatalog(OfferCatalog):
    def __init__(self, offers: Iterable[ListedOffer] = ()) -> None:
        self.offers: list[ListedOffer] = list(offers)
        self.fail_with: Exception | None = None
        self.sku_requests = 0  # as many as the HTTP adapter would send
        self.page_requests = 0
        self.skus_asked: list[str] = []

    async def find_by_skus(self, skus: Collection[str]) -> Sequence[ListedOffer]:
        if self.fail_with is not None:
            raise self.fail_with
        wanted = set(skus)
        self.sku_requests += -(-len(wanted) // SKUS_PER_REQUEST)
        self.skus_asked.extend(sorted(wanted))
        return [offer for offer in self.offers if offer.sku in wanted]

    async def list_page(self, offset: int, limit: int) -> OfferPage:
        if self.fail_with is not None:
            raise self.fail_with
        if not 1 <= limit <= 1000 or offset < 0:
            raise ValueError("limit is 1..1000 and offset >= 0, as Allegro allows")
        self.page_requests += 1
        return OfferPage(tuple(self.offers[offset : offset + limit]), len(self.offers))
