"""The SKU index: SKU -> offers from Allegro's listing, cached; a SKU without offers asked
for again after a short interval, the whole cache refreshed after its TTL, memory bounded."""

from __future__ import annotations

import dataclasses

import pytest

from application.ports import AllegroUnavailable
from application.sku_index import SkuIndex
from domain.money import Money
from domain.offers import MarketPrice
from tests.support.fakes import FakeClock
from tests.support.offer_fakes import FakeOfferCatalog, listed


@pytest.fixture
def catalog() -> FakeOfferCatalog:
    return FakeOfferCatalog([listed("11", "A"), listed("12", "A"), listed("21", "B")])


def index(catalog: FakeOfferCatalog, clock: FakeClock, max_skus: int = 1000) -> SkuIndex:
    return SkuIndex(catalog, clock, ttl_seconds=3600, miss_seconds=60, max_skus=max_skus)


async def test_a_known_sku_is_answered_from_the_cache(catalog: FakeOfferCatalog) -> None:
    skus = index(catalog, FakeClock())

    assert await skus.offers(["A", "B"]) == {"A": ("11", "12"), "B": ("21",)}
    assert await skus.offers(["B", "A"]) == {"A": ("11", "12"), "B": ("21",)}

    assert catalog.sku_requests == 1


async def test_a_sku_without_offers_is_asked_for_again_only_after_the_miss_interval(
    catalog: FakeOfferCatalog,
) -> None:
    clock = FakeClock()
    skus = index(catalog, clock)
    assert await skus.offers(["X"]) == {"X": ()}
    catalog.offers.append(listed("31", "X"))  # the seller creates an offer for it

    clock.advance(59)
    assert await skus.offers(["X"]) == {"X": ()}
    assert catalog.sku_requests == 1
    clock.advance(1)
    assert await skus.offers(["X"]) == {"X": ("31",)}

    assert catalog.skus_asked == ["X", "X"]


async def test_the_whole_cache_is_refreshed_after_its_ttl(catalog: FakeOfferCatalog) -> None:
    clock = FakeClock()
    skus = index(catalog, clock)
    await skus.offers(["A"])
    catalog.offers.append(listed("13", "A"))  # a new offer for a known SKU

    clock.advance(3599)
    assert await skus.offers(["A"]) == {"A": ("11", "12")}
    clock.advance(1)
    assert await skus.offers(["A"]) == {"A": ("11", "12", "13")}


async def test_only_what_was_asked_for_with_a_real_offer_id_is_kept(
    catalog: FakeOfferCatalog,
) -> None:
    catalog.offers += [listed("not-an-id", "A"), listed("41", "A ")]

    assert await index(catalog, FakeClock()).offers(["A"]) == {"A": ("11", "12")}


async def test_an_outage_propagates_and_leaves_the_cache_as_it_was(
    catalog: FakeOfferCatalog,
) -> None:
    skus = index(catalog, FakeClock())
    await skus.offers(["A"])
    catalog.fail_with = AllegroUnavailable("503")

    with pytest.raises(AllegroUnavailable):
        await skus.offers(["A", "B"])
    assert await skus.offers(["A"]) == {"A": ("11", "12")}  # from the cache


async def test_the_cache_is_bounded(catalog: FakeOfferCatalog) -> None:
    skus = index(catalog, FakeClock(), max_skus=2)
    await skus.offers(["A", "B"])

    await skus.offers(["X"])  # past the bound: dropped, then filled with what was asked

    assert await skus.offers(["A"]) == {"A": ("11", "12")}
    assert catalog.skus_asked == ["A", "B", "X", "A"]


async def test_the_base_marketplace_of_a_skus_offers_is_known_when_they_share_it() -> None:
    czech = MarketPrice("allegro-cz", Money.parse("90.00", "CZK"))
    catalog = FakeOfferCatalog(
        [
            listed("11", "A"),
            listed("12", "A"),
            listed("21", "B"),
            dataclasses.replace(listed("22", "B"), prices=(czech,)),  # based in Czechia
        ]
    )
    skus = index(catalog, FakeClock())

    await skus.offers(["A", "B", "C"])

    assert skus.base_marketplace("A") == "allegro-pl"
    assert skus.base_marketplace("B") is None  # its offers' bases differ
    assert skus.base_marketplace("C") is None  # no offer
