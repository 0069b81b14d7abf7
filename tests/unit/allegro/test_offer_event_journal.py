"""The offer event journal and the full offer over HTTP (respx): entries read one by one
(an unreadable one quarantined, the page going on), the cursor always an id Allegro gave,
the offer read into a snapshot or kept as it came when it cannot be, and every call through
`AllegroApi`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from adapters.allegro import AllegroClient
from application.ports.errors import AllegroRejected, AllegroUnavailable, MalformedBody
from application.ports.offers import (
    OfferEvent,
    OfferEventPage,
    OfferNotFound,
    UnreadableOffer,
    UnreadableOfferEvent,
)
from domain.money import Money
from domain.offers import MarketPrice, OfferSnapshot

from .fakes import API_URL, AUTH_URL, FakeTime
from .offer_bodies import (
    DEEP,
    EVENTS_URL,
    INT32_MAX,
    OFFER_ID,
    OTHER_ID,
    client_factory,
    errors_body,
    event_json,
    product_offer_json,
    raw,
    vendor,
)

OFFER_URL = f"{API_URL}/sale/product-offers/{OFFER_ID}"
AT = datetime(2026, 3, 14, 9, 12, 40, 118_000, tzinfo=UTC)
SNAPSHOT = OfferSnapshot(
    offer_id=OFFER_ID,
    sku="KON-10L-GR",
    stock_available=41,
    prices=(
        MarketPrice("allegro-pl", Money.parse("39.99", "PLN")),
        MarketPrice("allegro-cz", Money.parse("229.00", "CZK")),
    ),
    publication_status="ACTIVE",
    ended_by=None,
    updated_at=AT,
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


def events_page(*entries: Any) -> httpx.Response:
    return vendor(200, {"offerEvents": list(entries)})


# --- GET /sale/offer-events -------------------------------------------------------------------


async def test_a_page_of_events_names_their_offers_and_its_last_id(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.get(EVENTS_URL).mock(
        return_value=events_page(
            event_json("MQ", OFFER_ID, "OFFER_STOCK_CHANGED"),
            event_json(
                "Mg",
                OTHER_ID,
                "OFFER_ENDED",
                offer={"id": OTHER_ID, "publication": {"endedBy": "EMPTY_STOCK"}},
            ),
        )
    )

    page = await client.offer_journal.events("MA", 1000)

    assert page == OfferEventPage(
        events=(
            OfferEvent("MQ", AT, "OFFER_STOCK_CHANGED", OFFER_ID),
            OfferEvent("Mg", AT, "OFFER_ENDED", OTHER_ID),
        ),
        unreadable=(),
        last_id="Mg",
    )
    assert dict(route.calls.last.request.url.params) == {"limit": "1000", "from": "MA"}


async def test_without_a_cursor_the_oldest_retained_events_are_asked_for(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.get(EVENTS_URL).mock(return_value=events_page())

    page = await client.offer_journal.events(None, 100)

    assert page == OfferEventPage((), (), None)
    assert dict(route.calls.last.request.url.params) == {"limit": "100"}


async def test_an_event_type_allegro_adds_is_kept(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    respx_mock.get(EVENTS_URL).mock(
        return_value=events_page(event_json(event_type="OFFER_SOMETHING_NEW", extra=[1]))
    )

    page = await client.offer_journal.events(None, 10)

    assert [event.event_type for event in page.events] == ["OFFER_SOMETHING_NEW"]


UNREADABLE_ENTRIES = [
    (event_json(offer={"id": "../../order/events"}), "offer-id-a-path"),
    (event_json(offer={"id": None}), "offer-id-null"),
    (event_json(offer=None), "no-offer"),
    (event_json(offer="17034458812"), "offer-not-an-object"),
    (event_json(type="offer_changed"), "type-not-allegros-shape"),
    (event_json(type=None), "type-null"),
    (event_json(occurredAt="yesterday"), "occurred-at-not-a-time"),
    (event_json(occurredAt=None), "occurred-at-null"),
    (event_json(offer={"id": "1" * 5_000}), "offer-id-huge"),
]


@pytest.mark.parametrize("entry", [pytest.param(e, id=i) for e, i in UNREADABLE_ENTRIES])
async def test_an_entry_that_names_no_offer_is_quarantined_and_the_page_goes_on(
    respx_mock: respx.MockRouter, client: AllegroClient, entry: dict[str, Any]
) -> None:
    bad = {**entry, "id": "Mg"}
    respx_mock.get(EVENTS_URL).mock(
        return_value=events_page(event_json("MQ"), bad, event_json("Mw"))
    )

    page = await client.offer_journal.events(None, 10)

    assert [event.event_id for event in page.events] == ["MQ", "Mw"]
    [unreadable] = page.unreadable
    assert unreadable.event_id == "Mg"
    assert unreadable.reason
    assert len(unreadable.raw) <= 4_096
    assert page.last_id == "Mw"


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(None, id="null"),
        pytest.param("an event", id="a-string"),
        pytest.param([1, 2], id="a-list"),
        pytest.param({"id": None, "type": "OFFER_CHANGED"}, id="id-null"),
        pytest.param({**event_json(), "id": ""}, id="id-empty"),
        pytest.param({**event_json(), "id": "has space"}, id="id-with-space"),
        pytest.param({**event_json(), "id": "M" * 257}, id="id-too-long"),
        pytest.param({**event_json(), "id": 12345}, id="id-a-number"),
    ],
)
async def test_an_entry_without_an_id_is_quarantined_when_a_readable_one_follows(
    respx_mock: respx.MockRouter, client: AllegroClient, entry: Any
) -> None:
    respx_mock.get(EVENTS_URL).mock(
        return_value=events_page(event_json("MQ"), entry, event_json("Mw"))
    )

    page = await client.offer_journal.events("MA", 10)

    assert [event.event_id for event in page.events] == ["MQ", "Mw"]
    assert [(u.event_id, u.raw) for u in page.unreadable] == [(None, json.dumps(entry))]
    assert page.last_id == "Mw"


async def test_entries_after_the_last_id_are_left_for_the_next_read(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    """There is no id to pass them by: the next read, from the last id, brings them again."""
    respx_mock.get(EVENTS_URL).mock(
        return_value=events_page(event_json("MQ"), {"id": None}, "junk")
    )

    page = await client.offer_journal.events("MA", 10)

    assert page == OfferEventPage(
        (OfferEvent("MQ", AT, "OFFER_STOCK_CHANGED", OFFER_ID),), (), "MQ"
    )


async def test_a_page_with_no_id_at_all_reads_as_nothing_new(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    respx_mock.get(EVENTS_URL).mock(return_value=events_page({"type": "OFFER_CHANGED"}, None))

    assert await client.offer_journal.events("MA", 10) == OfferEventPage((), (), None)


async def test_an_unreadable_entry_is_kept_bounded(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    huge = {**event_json("Mg"), "type": None, "padding": "p" * 100_000}
    respx_mock.get(EVENTS_URL).mock(return_value=events_page(huge))

    page = await client.offer_journal.events(None, 10)

    [unreadable] = page.unreadable
    assert len(unreadable.raw) == 4_096
    assert page.last_id == "Mg"


@pytest.mark.parametrize("limit", [0, 1_001])
async def test_a_limit_allegro_would_refuse_is_not_asked_for(
    respx_mock: respx.MockRouter, client: AllegroClient, limit: int
) -> None:
    with pytest.raises(ValueError, match="limit must be within"):
        await client.offer_journal.events(None, limit)
    assert respx_mock.calls.call_count == 0


HOSTILE_PAGES = [
    (b"<html>Service Unavailable</html>", "not-json"),
    (DEEP, "nested-100000-deep"),
    (b"[]", "top-level-list"),
    (b"{}", "no-offer-events"),
    (b'{"offerEvents": {}}', "offer-events-not-a-list"),
    (json.dumps({"offerEvents": [event_json()] * 1_001}).encode(), "more-than-1000"),
]


@pytest.mark.parametrize("body", [pytest.param(b, id=i) for b, i in HOSTILE_PAGES])
async def test_a_page_that_is_no_page_is_malformed(
    respx_mock: respx.MockRouter, client: AllegroClient, body: bytes
) -> None:
    respx_mock.get(EVENTS_URL).mock(return_value=raw(200, body))

    with pytest.raises(MalformedBody):
        await client.offer_journal.events(None, 1000)


# --- GET /sale/product-offers/{id} ------------------------------------------------------------


async def test_an_offer_is_read_into_a_snapshot(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.get(OFFER_URL).mock(return_value=vendor(200, product_offer_json()))

    assert await client.offer_journal.offer(OFFER_ID) == SNAPSHOT
    assert route.call_count == 1


async def test_an_ended_offer_says_who_ended_it(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    ended = product_offer_json(
        stock={"available": 0, "unit": "UNIT"},
        publication={"status": "ENDED", "endedBy": "EMPTY_STOCK"},
    )
    respx_mock.get(OFFER_URL).mock(return_value=vendor(200, ended))

    offer = await client.offer_journal.offer(OFFER_ID)

    assert isinstance(offer, OfferSnapshot)
    assert (offer.publication_status, offer.ended_by, offer.stock_available) == (
        "ENDED",
        "EMPTY_STOCK",
        0,
    )


async def test_who_ended_an_offer_is_forgotten_once_it_is_active_again(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    again = product_offer_json(publication={"status": "ACTIVE", "endedBy": "USER"})
    respx_mock.get(OFFER_URL).mock(return_value=vendor(200, again))

    offer = await client.offer_journal.offer(OFFER_ID)

    assert isinstance(offer, OfferSnapshot)
    assert offer.ended_by is None


async def test_an_ending_allegro_adds_is_kept_and_nulls_read_as_nothing(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    body = product_offer_json(
        stock=None,
        external=None,
        additionalMarketplaces=None,
        publication={"status": "ENDED", "endedBy": "SOMETHING_NEW", "marketplaces": None},
    )
    respx_mock.get(OFFER_URL).mock(return_value=vendor(200, body))

    offer = await client.offer_journal.offer(OFFER_ID)

    assert isinstance(offer, OfferSnapshot)
    assert (offer.sku, offer.stock_available, offer.ended_by) == (None, None, "SOMETHING_NEW")
    assert offer.prices == (MarketPrice("allegro-pl", Money.parse("39.99", "PLN")),)


async def test_an_offer_that_is_gone_is_not_found(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    respx_mock.get(OFFER_URL).mock(return_value=vendor(404, errors_body("NOT_FOUND")))

    with pytest.raises(OfferNotFound) as caught:
        await client.offer_journal.offer(OFFER_ID)

    assert (caught.value.status_code, caught.value.code) == (404, "NOT_FOUND")


async def test_another_refusal_is_rejected_not_not_found(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    respx_mock.get(OFFER_URL).mock(return_value=vendor(403, errors_body("AccessDenied")))

    with pytest.raises(AllegroRejected) as caught:
        await client.offer_journal.offer(OFFER_ID)

    assert not isinstance(caught.value, OfferNotFound)
    assert caught.value.code == "AccessDenied"


@pytest.mark.parametrize("offer_id", ["../../order/events", "", ".", "1" * 21, "17034458812?x=1"])
async def test_an_id_that_is_not_an_offer_id_never_becomes_a_path(
    respx_mock: respx.MockRouter, client: AllegroClient, offer_id: str
) -> None:
    offer = await client.offer_journal.offer(offer_id)

    assert isinstance(offer, UnreadableOffer)
    assert "not an offer id" in offer.reason
    assert len(offer.offer_id) <= 40
    assert respx_mock.calls.call_count == 0


def _offer(**overrides: Any) -> bytes:
    return json.dumps(product_offer_json(**overrides)).encode()


HOSTILE_OFFERS = [
    (b"<html>Service Unavailable</html>", "not-json"),
    (b"", "empty"),
    (DEEP, "nested-100000-deep"),
    (b"null", "null"),
    (b"[]", "a-list"),
    (_offer(stock={"available": INT32_MAX + 1}), "stock-past-int32"),
    (_offer(stock={"available": -3}), "stock-negative"),
    (_offer(stock={"available": "7"}), "stock-a-string"),
    (_offer(stock={"available": 1e300}), "stock-a-float"),
    (_offer(publication={"status": "Active"}), "status-not-allegros-shape"),
    (_offer(publication={"status": "ENDED", "endedBy": "by user"}), "ended-by-not-allegros"),
    (_offer(publication=None), "no-publication"),
    (_offer(updatedAt=None), "updated-at-null"),
    (_offer(updatedAt="soon"), "updated-at-not-a-time"),
    (_offer(updatedAt="0001-01-01T00:30:00+01:00"), "updated-at-out-of-range"),
    (_offer(sellingMode={"price": {"amount": "1E+100000000", "currency": "PLN"}}), "amount"),
    (_offer(sellingMode={"price": {"amount": "5", "currency": "zł"}}), "currency"),
    (_offer(external={"id": "S" * 101}), "sku-too-long"),
    (_offer(external={"id": "A\x00B"}), "sku-with-nul"),
    (_offer(id=OTHER_ID), "another-offers"),
    (_offer(id=None), "no-id"),
]


@pytest.mark.parametrize("body", [pytest.param(b, id=i) for b, i in HOSTILE_OFFERS])
async def test_an_offer_that_cannot_be_read_is_kept_as_it_came(
    respx_mock: respx.MockRouter, client: AllegroClient, body: bytes
) -> None:
    respx_mock.get(OFFER_URL).mock(return_value=raw(200, body))

    offer = await client.offer_journal.offer(OFFER_ID)

    assert isinstance(offer, UnreadableOffer)
    assert offer.offer_id == OFFER_ID
    assert offer.reason
    assert len(offer.reason) < 2_000
    assert offer.raw == body[: 64 * 1024].decode(errors="replace")


async def test_an_offer_over_the_body_limit_is_kept_as_its_head(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient]
) -> None:
    body = product_offer_json(description="d" * 10_000)
    respx_mock.get(OFFER_URL).mock(return_value=vendor(200, body))
    client = make_client(max_body_bytes=2_048)

    offer = await client.offer_journal.offer(OFFER_ID)

    assert isinstance(offer, UnreadableOffer)
    assert "larger than 2048 bytes" in offer.reason
    assert 0 < len(offer.raw) <= 2_048
    assert json.dumps(body).startswith(offer.raw)


async def test_a_huge_unreadable_offer_is_kept_bounded(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    body = json.dumps(product_offer_json(updatedAt=None, description="d" * 500_000)).encode()
    respx_mock.get(OFFER_URL).mock(return_value=raw(200, body))

    offer = await client.offer_journal.offer(OFFER_ID)

    assert isinstance(offer, UnreadableOffer)
    assert len(offer.raw) == 64 * 1024


# --- every call through AllegroApi ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "call"),
    [
        pytest.param(EVENTS_URL, lambda c: c.offer_journal.events(None, 10), id="events"),
        pytest.param(OFFER_URL, lambda c: c.offer_journal.offer(OFFER_ID), id="offer"),
    ],
)
async def test_a_read_is_repeated_after_an_outage_and_a_429(
    respx_mock: respx.MockRouter,
    client: AllegroClient,
    time: FakeTime,
    url: str,
    call: Callable[[AllegroClient], Any],
) -> None:
    body = {"offerEvents": []} if url == EVENTS_URL else product_offer_json()
    route = respx_mock.get(url).mock(
        side_effect=[
            vendor(503, errors_body("SERVICE_UNAVAILABLE")),
            vendor(429, errors_body("TOO_MANY_REQUESTS")),
            httpx.ReadTimeout("no answer"),
            vendor(200, body),
        ]
    )

    result = await call(client)

    assert route.call_count == 4
    assert 60.0 in time.sleeps  # the 429's block of the whole client
    assert not isinstance(result, UnreadableOffer | UnreadableOfferEvent)


@pytest.mark.parametrize(
    ("url", "call"),
    [
        pytest.param(EVENTS_URL, lambda c: c.offer_journal.events(None, 10), id="events"),
        pytest.param(OFFER_URL, lambda c: c.offer_journal.offer(OFFER_ID), id="offer"),
    ],
)
async def test_an_outage_that_lasts_is_an_outage_not_an_unreadable_offer(
    respx_mock: respx.MockRouter,
    make_client: Callable[..., AllegroClient],
    url: str,
    call: Callable[[AllegroClient], Any],
) -> None:
    respx_mock.get(url).mock(return_value=vendor(503))
    client = make_client(max_attempts=2)

    with pytest.raises(AllegroUnavailable):
        await call(client)


async def test_a_rejected_token_is_refreshed_once_for_the_journal(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    respx_mock.post(f"{AUTH_URL}/token").respond(
        200, json={"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 43199}
    )
    route = respx_mock.get(EVENTS_URL).mock(
        side_effect=[vendor(401, {"error": "invalid_token"}), events_page()]
    )

    await client.offer_journal.events(None, 10)

    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer access-0",
        "Bearer access-1",
    ]


async def test_a_journal_page_over_the_body_limit_is_malformed(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient]
) -> None:
    respx_mock.get(EVENTS_URL).mock(return_value=events_page(*(event_json() for _ in range(20))))
    client = make_client(max_body_bytes=1_024)

    with pytest.raises(MalformedBody, match="larger than 1024 bytes"):
        await client.offer_journal.events(None, 100)
