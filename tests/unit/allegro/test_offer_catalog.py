"""The offer listing over HTTP (respx): SKUs asked for 100 at a time and paged through,
listed offers read into the port's type, every call through `AllegroApi`, and hostile pages
refused as a whole."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import respx

from adapters.allegro import AllegroClient
from application.ports.errors import AllegroUnavailable, MalformedBody
from application.ports.offers import ListedOffer, OfferPage
from domain.money import Money
from domain.offers import MarketPrice

from .fakes import AUTH_URL, VENDOR, FakeTime
from .offer_bodies import (
    DEEP,
    INT32_MAX,
    OFFER_ID,
    OFFERS_URL,
    OTHER_ID,
    client_factory,
    errors_body,
    listed_json,
    offers_page,
    raw,
    vendor,
)

KON = ListedOffer(
    offer_id=OFFER_ID,
    sku="KON-10L-GR",
    stock_available=41,
    prices=(
        MarketPrice("allegro-pl", Money.parse("39.99", "PLN")),
        MarketPrice("allegro-cz", Money.parse("229.00", "CZK")),
    ),
    publication_status="ACTIVE",
)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def make_client(time: FakeTime) -> AsyncIterator[Callable[..., AllegroClient]]:
    clients: list[AllegroClient] = []
    yield client_factory(time, clients)
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: Callable[..., AllegroClient]) -> AllegroClient:
    return make_client()


def asked_skus(request: httpx.Request) -> list[str]:
    return request.url.params.get_list("external.id")


def by_sku(catalog: dict[str, list[dict[str, Any]]]) -> Callable[[httpx.Request], httpx.Response]:
    """A listing that answers `external.id` filters from `catalog` (SKU -> offers)."""

    def reply(request: httpx.Request) -> httpx.Response:
        found = [offer for sku in asked_skus(request) for offer in catalog.get(sku, [])]
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        return vendor(200, offers_page(*found[offset : offset + limit], total=len(found)))

    return reply


# --- find_by_skus ---------------------------------------------------------------------------


async def test_skus_are_asked_for_100_at_a_time_sorted_with_the_largest_page(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.get(OFFERS_URL).mock(side_effect=by_sku({}))
    skus = [f"SKU-{n:03d}" for n in range(250)]

    found = await client.command_offer_catalog.find_by_skus(skus[::-1])

    assert list(found) == []
    asked = [asked_skus(call.request) for call in route.calls]
    assert asked == [skus[:100], skus[100:200], skus[200:]]
    for call in route.calls:
        assert call.request.url.params["limit"] == "1000"
        assert call.request.url.params["offset"] == "0"
        assert call.request.headers["Accept"] == VENDOR


async def test_the_offers_of_each_sku_are_found_and_read(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    other = listed_json(id=OTHER_ID, external={"id": "SEK-20-ST"}, additionalMarketplaces={})
    respx_mock.get(OFFERS_URL).mock(
        side_effect=by_sku({"KON-10L-GR": [listed_json()], "SEK-20-ST": [other]})
    )

    found = await client.command_offer_catalog.find_by_skus(["KON-10L-GR", "SEK-20-ST", "NONE"])

    assert sorted(found, key=lambda offer: offer.offer_id, reverse=True) == [
        KON,
        ListedOffer(
            OTHER_ID,
            "SEK-20-ST",
            41,
            (MarketPrice("allegro-pl", Money.parse("39.99", "PLN")),),
            "ACTIVE",
        ),
    ]


@pytest.mark.parametrize(
    "skus",
    [
        pytest.param(["S" * 101], id="101-characters"),
        pytest.param([""], id="empty"),
        pytest.param(["S" * 5_000], id="5000-characters"),
    ],
)
async def test_a_sku_no_offer_can_carry_is_never_sent(
    respx_mock: respx.MockRouter, client: AllegroClient, skus: list[str]
) -> None:
    route = respx_mock.get(OFFERS_URL).mock(side_effect=by_sku({}))

    assert list(await client.command_offer_catalog.find_by_skus(skus)) == []
    assert route.call_count == 0


async def test_a_long_sku_is_skipped_and_the_others_are_still_asked_for(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.get(OFFERS_URL).mock(side_effect=by_sku({}))

    await client.command_offer_catalog.find_by_skus(["A" * 101, "B" * 100, "C"])

    assert asked_skus(route.calls.last.request) == ["B" * 100, "C"]
    assert route.call_count == 1


async def test_the_answers_of_a_chunk_are_paged_through(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    many = [listed_json(id=str(10_000_000_000 + n)) for n in range(1_500)]
    route = respx_mock.get(OFFERS_URL).mock(side_effect=by_sku({"KON-10L-GR": many}))

    found = await client.command_offer_catalog.find_by_skus(["KON-10L-GR"])

    assert len(found) == 1_500
    assert [call.request.url.params["offset"] for call in route.calls] == ["0", "1000"]


async def test_an_offer_listed_twice_or_under_another_sku_is_not_an_answer(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    stranger = listed_json(id=OTHER_ID, external={"id": "NOT-ASKED"})
    no_sku = listed_json(id="12345678901", external=None)
    respx_mock.get(OFFERS_URL).mock(
        return_value=vendor(200, offers_page(listed_json(), listed_json(), stranger, no_sku))
    )

    assert list(await client.command_offer_catalog.find_by_skus(["KON-10L-GR"])) == [KON]


async def test_a_listing_that_never_ends_is_malformed_after_a_thousand_offers_a_sku(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    least = {"publication": {"status": "ACTIVE"}, "external": {"id": "KON-10L-GR"}}
    full = raw(200, _page(*({"id": str(10**10 + n), **least} for n in range(1_000)), total=10**9))
    route = respx_mock.get(OFFERS_URL).mock(return_value=full)

    with pytest.raises(MalformedBody, match="more than 100000 offers for 1 SKUs"):
        await client.command_offer_catalog.find_by_skus(["KON-10L-GR"])

    assert route.call_count == 100


# --- list_page ------------------------------------------------------------------------------


async def test_a_page_of_the_listing_is_asked_for_without_filters(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.get(OFFERS_URL).mock(
        return_value=vendor(200, offers_page(listed_json(), total=57))
    )

    page = await client.offer_catalog.list_page(2_000, 1_000)

    assert page == OfferPage((KON,), 57)
    assert dict(route.calls.last.request.url.params) == {"offset": "2000", "limit": "1000"}


@pytest.mark.parametrize(
    ("offset", "limit"), [(0, 0), (0, 1_001), (-1, 10), (10_000_000, 1), (9_999_999, 2)]
)
async def test_a_page_allegro_would_refuse_is_not_asked_for(
    respx_mock: respx.MockRouter, client: AllegroClient, offset: int, limit: int
) -> None:
    with pytest.raises(ValueError, match="must be within"):
        await client.offer_catalog.list_page(offset, limit)
    assert respx_mock.calls.call_count == 0


# --- what a listed offer says -----------------------------------------------------------------


async def read_one(
    respx_mock: respx.MockRouter, client: AllegroClient, item: dict[str, Any]
) -> ListedOffer:
    respx_mock.get(OFFERS_URL).mock(return_value=vendor(200, offers_page(item)))
    page = await client.offer_catalog.list_page(0, 10)
    assert len(page.offers) == 1
    return page.offers[0]


async def test_explicit_nulls_read_as_nothing(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    item = listed_json(stock=None, external=None, sellingMode=None, additionalMarketplaces=None)

    offer = await read_one(respx_mock, client, item)

    assert (offer.sku, offer.stock_available, offer.prices) == (None, None, ())


async def test_the_base_price_comes_first_then_the_others_by_marketplace(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    def priced(amount: str, currency: str) -> dict[str, Any]:
        return {"sellingMode": {"price": {"amount": amount, "currency": currency}}}

    item = listed_json(
        additionalMarketplaces={
            "allegro-sk": priced("9.20", "EUR"),
            "allegro-cz": priced("229.00", "CZK"),
            "allegro-hu": {"publication": {"state": "PENDING"}, "sellingMode": None},
            "allegro-business-cz": None,
        }
    )

    offer = await read_one(respx_mock, client, item)

    assert [(p.marketplace, str(p.price)) for p in offer.prices] == [
        ("allegro-pl", "39.99 PLN"),
        ("allegro-cz", "229.00 CZK"),
        ("allegro-sk", "9.20 EUR"),
    ]


async def test_the_base_marketplace_is_the_one_the_offer_names_else_allegro_pl(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    czech = listed_json(
        sellingMode={"price": {"amount": "229.00", "currency": "CZK"}},
        publication={"status": "ACTIVE", "marketplaces": {"base": {"id": "allegro-cz"}}},
        additionalMarketplaces={},
    )
    unnamed = listed_json(publication={"status": "ACTIVE"}, additionalMarketplaces={})
    respx_mock.get(OFFERS_URL).mock(return_value=vendor(200, offers_page(czech, unnamed)))

    page = await client.offer_catalog.list_page(0, 10)

    assert [offer.prices[0].marketplace for offer in page.offers] == ["allegro-cz", "allegro-pl"]


async def test_a_status_allegro_adds_is_kept_and_unknown_fields_are_ignored(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    item = listed_json(
        publication={"status": "PAUSED_2027", "somethingNew": [1, 2]}, futureField={"x": 1}
    )

    offer = await read_one(respx_mock, client, item)

    assert offer.publication_status == "PAUSED_2027"


async def test_an_int32_stock_and_a_numeric_sku_are_read(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    item = listed_json(stock={"available": INT32_MAX}, external={"id": 12345})

    offer = await read_one(respx_mock, client, item)

    assert (offer.stock_available, offer.sku) == (INT32_MAX, "12345")


# --- every call through AllegroApi ------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(vendor(503, errors_body("SERVICE_UNAVAILABLE")), id="503"),
        pytest.param(vendor(504, errors_body("ServiceTimeoutException")), id="504"),
        pytest.param(httpx.ReadTimeout("no answer"), id="timeout"),
    ],
)
async def test_a_listing_is_asked_for_again_after_an_outage(
    respx_mock: respx.MockRouter, client: AllegroClient, failure: Any
) -> None:
    route = respx_mock.get(OFFERS_URL).mock(
        side_effect=[failure, vendor(200, offers_page(listed_json()))]
    )

    assert list(await client.command_offer_catalog.find_by_skus(["KON-10L-GR"])) == [KON]
    assert route.call_count == 2


async def test_a_429_blocks_the_client_for_a_minute_then_the_listing_goes_on(
    respx_mock: respx.MockRouter, client: AllegroClient, time: FakeTime
) -> None:
    route = respx_mock.get(OFFERS_URL).mock(
        side_effect=[vendor(429, errors_body("TOO_MANY_REQUESTS")), vendor(200, offers_page())]
    )

    await client.offer_catalog.list_page(0, 1000)

    assert route.call_count == 2
    assert 60.0 in time.sleeps


async def test_a_rejected_token_is_refreshed_once_and_the_listing_asked_again(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    respx_mock.post(f"{AUTH_URL}/token").respond(
        200, json={"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 43199}
    )
    route = respx_mock.get(OFFERS_URL).mock(
        side_effect=[vendor(401, {"error": "invalid_token"}), vendor(200, offers_page())]
    )

    await client.offer_catalog.list_page(0, 1000)

    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer access-0",
        "Bearer access-1",
    ]


async def test_an_outage_that_lasts_is_an_outage(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient]
) -> None:
    respx_mock.get(OFFERS_URL).mock(return_value=vendor(503))
    client = make_client(max_attempts=2)

    with pytest.raises(AllegroUnavailable):
        await client.offer_catalog.list_page(0, 1000)


async def test_a_page_over_the_body_limit_is_malformed(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient]
) -> None:
    respx_mock.get(OFFERS_URL).mock(
        return_value=vendor(200, offers_page(*(listed_json() for _ in range(10))))
    )
    client = make_client(max_body_bytes=1_024)

    with pytest.raises(MalformedBody, match="larger than 1024 bytes"):
        await client.command_offer_catalog.find_by_skus(["KON-10L-GR"])


# --- hostile pages --------------------------------------------------------------------------


def _page(*items: Any, total: int | None = None) -> bytes:
    count = len(items) if total is None else total
    return json.dumps({"offers": list(items), "totalCount": count}).encode()


def _stock(value: Any) -> bytes:
    return _page(listed_json(stock={"available": value}))


def _price(amount: Any, currency: Any = "PLN") -> bytes:
    return _page(listed_json(sellingMode={"price": {"amount": amount, "currency": currency}}))


HOSTILE = [
    (b"<html>Service Unavailable</html>", "not-json"),
    (b"", "empty"),
    (DEEP, "nested-100000-deep"),
    (b'{"offers": [], "totalCount": ' + b"9" * 5_000 + b"}", "int-of-5000-digits"),
    (b"[]", "top-level-list"),
    (b'{"offers": {}, "totalCount": 0}', "offers-not-a-list"),
    (b'{"offers": []}', "no-total"),
    (b'{"offers": [], "totalCount": -1}', "negative-total"),
    (_page(*(listed_json() for _ in range(11))), "more-offers-than-asked"),
    (_stock(INT32_MAX + 1), "stock-past-int32"),
    (_stock(10**30), "stock-absurd"),
    (_stock(-1), "stock-negative"),
    (_stock("41"), "stock-a-string"),
    (_stock(41.5), "stock-a-float"),
    (_stock(True), "stock-a-boolean"),
    (_page(listed_json(id="../../order/events")), "id-a-path"),
    (_page(listed_json(id="")), "id-empty"),
    (_page(listed_json(id=None)), "id-null"),
    (_page(listed_json(id="1" * 21)), "id-too-long"),
    (_page({"id": OFFER_ID}), "no-publication"),
    (_page(listed_json(publication={"status": "active"})), "status-not-allegros-shape"),
    (_page(listed_json(publication={"status": "A" * 65})), "status-too-long"),
    (_page(listed_json(publication={"status": 7})), "status-a-number"),
    (_page(listed_json(external={"id": "S" * 101})), "sku-too-long"),
    (_page(listed_json(external={"id": "SKU\x00"})), "sku-with-nul"),
    (_page(listed_json(external={"id": ["a"]})), "sku-a-list"),
    (_price("abc"), "amount-not-decimal"),
    (_price("1E+100000000"), "amount-absurd"),
    (_price("-5.00"), "amount-negative"),
    (_price("9" * 100), "amount-too-long"),
    (_price("NaN"), "amount-nan"),
    (_price("5.00", "PLNX"), "currency-not-iso"),
    (_price("5.00", None), "currency-null"),
    (_page(listed_json(additionalMarketplaces={"../x": {}})), "marketplace-not-an-id"),
    (
        _page(listed_json(additionalMarketplaces={f"m{n}": None for n in range(33)})),
        "too-many-marketplaces",
    ),
    (
        _page(
            listed_json(publication={"status": "ACTIVE", "marketplaces": {"base": {"id": "PL PL"}}})
        ),
        "base-marketplace-not-an-id",
    ),
]


HOSTILE_PAGES = HOSTILE[:9]  # not a listing at all
HOSTILE_OFFERS = HOSTILE[9:]  # a listing with one offer that cannot be read
GOOD_ID = "19999999999"


@pytest.mark.parametrize("body", [pytest.param(b, id=i) for b, i in HOSTILE_PAGES])
async def test_a_hostile_page_is_malformed_as_a_whole(
    respx_mock: respx.MockRouter, client: AllegroClient, body: bytes
) -> None:
    route = respx_mock.get(OFFERS_URL).mock(return_value=raw(200, body))

    with pytest.raises(MalformedBody) as caught:
        await client.offer_catalog.list_page(0, 10)

    assert route.call_count == 1  # a body is not an outage of the transport: not repeated
    assert len(str(caught.value)) < 1_000
    assert "\x00" not in str(caught.value)


@pytest.mark.parametrize("body", [pytest.param(b, id=i) for b, i in HOSTILE_OFFERS])
async def test_one_offer_that_cannot_be_read_is_skipped_and_the_page_is_kept(
    respx_mock: respx.MockRouter, client: AllegroClient, body: bytes
) -> None:
    """Failing the page would hold every SKU on it (and a sweep) for as long as the offer
    stays so."""
    bad = json.loads(body)["offers"][0]
    page = _page(listed_json(id=GOOD_ID), bad)
    respx_mock.get(OFFERS_URL).mock(return_value=raw(200, page))

    listed = await client.offer_catalog.list_page(0, 10)

    assert [offer.offer_id for offer in listed.offers] == [GOOD_ID]
    assert listed.total == 2


@pytest.mark.parametrize("body", [pytest.param(b, id=i) for b, i in HOSTILE[:6]])
async def test_a_hostile_page_fails_the_sku_lookup_too(
    respx_mock: respx.MockRouter, client: AllegroClient, body: bytes
) -> None:
    respx_mock.get(OFFERS_URL).mock(return_value=raw(200, body))

    with pytest.raises(MalformedBody):
        await client.command_offer_catalog.find_by_skus(["KON-10L-GR"])
