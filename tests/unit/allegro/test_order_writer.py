"""The order write-back over HTTP (respx): what is sent, how each answer maps onto the
port's errors, which failures are repeated (the fulfillment PUT) and which are not (the
shipments POST: no idempotency key), the 50-per-second cap, and hostile bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from adapters.allegro import AllegroClient, build_allegro_client
from application.ports.errors import (
    AllegroRejected,
    AllegroUnavailable,
    CheckoutFormNotFound,
    MalformedBody,
)
from application.ports.order_writes import RevisionConflict, Shipment

from .builders import FORM_ID
from .fakes import API_URL, AUTH_URL, VENDOR, FakeTime, MemoryTokenStore, make_config, valid_pair

FORM_URL = f"{API_URL}/order/checkout-forms/{FORM_ID}"
FULFILLMENT_URL = f"{FORM_URL}/fulfillment"
SHIPMENTS_URL = f"{FORM_URL}/shipments"
CARRIERS_URL = f"{API_URL}/order/carriers"
LINE_ITEM = "15da6138-ea25-11f1-8f11-02fc00000001"
DEEP = b"[" * 100_000 + b"]" * 100_000
JWT_LIKE = "eyJhbGciOiJSUzI1NiJ9.eyJ1c2VyX25hbWUiOiJ4In0.c2lnbmF0dXJlLXBhcnQ"


def shipment_json(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "REhMOjEyMzQ1Njc4OTEwUEw=",
        "waybill": "620000123456789",
        "carrierId": "INPOST",
        "carrierName": None,
        "lineItems": [{"id": LINE_ITEM}],
        "createdAt": "2026-03-14T10:00:00.000Z",
    }
    item.update(overrides)
    return item


def errors_body(code: str, message: str = "refused") -> dict[str, Any]:
    error = {"code": code, "message": message, "details": None, "path": None}
    return {"errors": [{**error, "userMessage": message, "metadata": {}}]}


def vendor(status: int, body: Any = None) -> httpx.Response:
    headers = {"Content-Type": VENDOR}
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


def raw(status: int, body: bytes) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"Content-Type": VENDOR})


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def make_client(time: FakeTime) -> AsyncIterator[Callable[..., AllegroClient]]:
    """Clients on the real httpx transport (respx intercepts it) and fake time."""
    clients: list[AllegroClient] = []

    def build(**config: Any) -> AllegroClient:
        store = MemoryTokenStore({"default": valid_pair(time)})
        client = build_allegro_client(
            make_config(**config),
            store,
            clock=time,
            monotonic=time.monotonic,
            sleep=time.sleep,
            jitter=lambda ceiling: ceiling,
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: Callable[..., AllegroClient]) -> AllegroClient:
    return make_client()


def sent_json(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


# --- PUT .../fulfillment -------------------------------------------------------------------


async def test_the_status_goes_as_vendor_json_with_the_revision_as_its_query_parameter(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.put(FULFILLMENT_URL).mock(return_value=httpx.Response(204))

    await client.orders.set_fulfillment_status(FORM_ID, "SENT", "3fa1c09e")

    request = route.calls.last.request
    assert route.call_count == 1
    assert request.url.params.get_list("checkoutForm.revision") == ["3fa1c09e"]
    assert request.headers["Content-Type"] == VENDOR
    assert request.headers["Accept"] == VENDOR
    assert request.headers["Authorization"] == "Bearer access-0"
    assert json.loads(request.content) == {"status": "SENT"}


async def test_without_a_revision_the_status_is_sent_unconditionally(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.put(FULFILLMENT_URL).mock(return_value=httpx.Response(204))

    await client.orders.set_fulfillment_status(FORM_ID, "PROCESSING", None)

    assert "checkoutForm.revision" not in route.calls.last.request.url.params
    assert sent_json(route) == {"status": "PROCESSING"}


async def test_a_409_on_the_status_is_a_revision_conflict_with_allegros_code(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    body = errors_body("OrderRevisionOutdated", "Provided revision is outdated")
    route = respx_mock.put(FULFILLMENT_URL).mock(return_value=vendor(409, body))

    with pytest.raises(RevisionConflict) as caught:
        await client.orders.set_fulfillment_status(FORM_ID, "SENT", "00000000")

    assert (caught.value.status_code, caught.value.code) == (409, "OrderRevisionOutdated")
    assert route.call_count == 1  # a conflict is an answer, not a failure to repeat


async def test_a_422_on_the_status_is_rejected_with_allegros_code_not_a_conflict(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    body = errors_body("VALIDATION_ERROR", "Status RETURNED cannot be set")
    respx_mock.put(FULFILLMENT_URL).mock(return_value=vendor(422, body))

    with pytest.raises(AllegroRejected) as caught:
        await client.orders.set_fulfillment_status(FORM_ID, "RETURNED", None)

    assert not isinstance(caught.value, RevisionConflict)
    assert (caught.value.status_code, caught.value.code) == (422, "VALIDATION_ERROR")
    assert "Status RETURNED cannot be set" in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [pytest.param(vendor(503), id="503"), pytest.param(httpx.ReadTimeout("x"), id="timeout")],
)
async def test_the_status_put_is_repeated_after_an_outage(
    respx_mock: respx.MockRouter, client: AllegroClient, failure: Any
) -> None:
    route = respx_mock.put(FULFILLMENT_URL).mock(side_effect=[failure, httpx.Response(204)])

    await client.orders.set_fulfillment_status(FORM_ID, "SENT", "3fa1c09e")

    assert route.call_count == 2
    assert [call.request.content for call in route.calls] == [b'{"status": "SENT"}'] * 2


# --- GET/POST .../shipments ----------------------------------------------------------------


async def test_a_shipment_is_posted_with_allegros_field_names_and_read_back(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    created = shipment_json(carrierId="OTHER", carrierName="Kurier Janek", waybill="JK-1")
    route = respx_mock.post(SHIPMENTS_URL).mock(return_value=vendor(201, created))

    shipment = await client.orders.add_shipment(
        FORM_ID, "OTHER", "JK-1", "Kurier Janek", [LINE_ITEM]
    )

    assert shipment == Shipment(created["id"], "OTHER", "JK-1", (LINE_ITEM,))
    assert route.calls.last.request.headers["Content-Type"] == VENDOR
    assert sent_json(route) == {
        "carrierId": "OTHER",
        "waybill": "JK-1",
        "carrierName": "Kurier Janek",
        "lineItems": [{"id": LINE_ITEM}],
    }


async def test_a_shipment_for_every_line_leaves_out_line_items_and_carrier_name(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.post(SHIPMENTS_URL).mock(
        return_value=vendor(201, shipment_json(lineItems=None))
    )

    shipment = await client.orders.add_shipment(FORM_ID, "INPOST", "620000123456789", None, [])

    assert sent_json(route) == {"carrierId": "INPOST", "waybill": "620000123456789"}
    assert shipment.line_item_ids == ()


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(vendor(500), id="500"),
        pytest.param(vendor(503, errors_body("SERVICE_UNAVAILABLE")), id="503"),
        pytest.param(httpx.ReadTimeout("no answer"), id="read-timeout"),
        pytest.param(httpx.RemoteProtocolError("connection closed"), id="lost-answer"),
    ],
)
async def test_the_shipment_post_is_never_repeated_once_it_may_have_been_applied(
    respx_mock: respx.MockRouter, client: AllegroClient, failure: Any
) -> None:
    route = respx_mock.post(SHIPMENTS_URL).mock(side_effect=[failure, vendor(201, shipment_json())])

    with pytest.raises(AllegroUnavailable):
        await client.orders.add_shipment(FORM_ID, "INPOST", "620000123456789", None, [])

    assert route.call_count == 1


async def test_a_shipment_post_refused_with_429_is_sent_again_after_the_block(
    respx_mock: respx.MockRouter, client: AllegroClient, time: FakeTime
) -> None:
    route = respx_mock.post(SHIPMENTS_URL).mock(
        side_effect=[vendor(429, errors_body("TOO_MANY_REQUESTS")), vendor(201, shipment_json())]
    )

    shipment = await client.orders.add_shipment(FORM_ID, "INPOST", "620000123456789", None, [])

    assert route.call_count == 2
    assert shipment.id == shipment_json()["id"]
    assert 60.0 in time.sleeps  # the client id's block (config rate_limit_block_seconds)


async def test_a_shipment_post_whose_connection_never_opened_is_sent_again(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.post(SHIPMENTS_URL).mock(
        side_effect=[httpx.ConnectError("refused"), vendor(201, shipment_json())]
    )

    await client.orders.add_shipment(FORM_ID, "INPOST", "620000123456789", None, [])

    assert route.call_count == 2


async def test_a_shipment_post_answered_401_is_sent_again_with_a_refreshed_token(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    respx_mock.post(f"{AUTH_URL}/token").respond(
        200, json={"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 43199}
    )
    route = respx_mock.post(SHIPMENTS_URL).mock(
        side_effect=[vendor(401, {"error": "invalid_token"}), vendor(201, shipment_json())]
    )

    await client.orders.add_shipment(FORM_ID, "INPOST", "620000123456789", None, [])

    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer access-0",
        "Bearer access-1",
    ]


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "VALIDATION_ERROR"), (409, "WAYBILL_USED_TOO_MANY_TIMES"), (422, "LINE_ITEM")],
)
async def test_a_refused_shipment_is_rejected_with_allegros_code(
    respx_mock: respx.MockRouter, client: AllegroClient, status: int, code: str
) -> None:
    route = respx_mock.post(SHIPMENTS_URL).mock(return_value=vendor(status, errors_body(code)))

    with pytest.raises(AllegroRejected) as caught:
        await client.orders.add_shipment(FORM_ID, "INPOST", "bad waybill", None, [])

    assert not isinstance(caught.value, RevisionConflict)  # a 409 here is about the waybill
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert route.call_count == 1


async def test_the_shipments_of_an_order_are_read_with_unknown_fields_ignored(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    body = {
        "shipments": [
            shipment_json(futureField={"x": 1}),
            {"id": "c2Vjb25k", "carrierId": "DPD", "waybill": "DPD-2", "lineItems": None},
            {"id": 12345, "carrierId": "DHL", "waybill": "DHL-3"},
        ],
        "somethingNew": True,
    }
    respx_mock.get(SHIPMENTS_URL).mock(return_value=vendor(200, body))

    shipments = await client.orders.shipments(FORM_ID)

    assert list(shipments) == [
        Shipment("REhMOjEyMzQ1Njc4OTEwUEw=", "INPOST", "620000123456789", (LINE_ITEM,)),
        Shipment("c2Vjb25k", "DPD", "DPD-2", ()),
        Shipment("12345", "DHL", "DHL-3", ()),
    ]


async def test_listing_shipments_is_repeated_after_an_outage(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    route = respx_mock.get(SHIPMENTS_URL).mock(
        side_effect=[vendor(503), vendor(200, {"shipments": []})]
    )

    assert list(await client.orders.shipments(FORM_ID)) == []
    assert route.call_count == 2


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.orders.set_fulfillment_status(FORM_ID, "SENT", None), id="put"),
        pytest.param(lambda c: c.orders.shipments(FORM_ID), id="list"),
        pytest.param(lambda c: c.orders.add_shipment(FORM_ID, "DPD", "W-1", None, []), id="post"),
    ],
)
async def test_an_unknown_order_is_not_found(
    respx_mock: respx.MockRouter,
    client: AllegroClient,
    call: Callable[[AllegroClient], Awaitable[object]],
) -> None:
    not_found = vendor(404, errors_body("CheckoutFormNotFoundException"))
    respx_mock.route(url__startswith=FORM_URL).mock(return_value=not_found)

    with pytest.raises(CheckoutFormNotFound) as caught:
        await call(client)

    assert caught.value.checkout_form_id == FORM_ID


@pytest.mark.parametrize("form_id", ["../../sale/offers", ".", "", "15d9e2a0?x=1"])
async def test_an_id_that_is_not_a_checkout_form_id_never_becomes_a_path(
    respx_mock: respx.MockRouter, client: AllegroClient, form_id: str
) -> None:
    with pytest.raises(AllegroRejected) as caught:
        await client.orders.add_shipment(form_id, "DPD", "W-1", None, [])
    with pytest.raises(AllegroRejected):
        await client.orders.set_fulfillment_status(form_id, "SENT", None)

    assert caught.value.status_code == 422
    assert respx_mock.calls.call_count == 0


async def test_allegros_error_words_are_bounded(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    body = errors_body("X" * 5_000 + "\x00\n", "y" * 50_000)
    respx_mock.post(SHIPMENTS_URL).mock(return_value=vendor(400, body))

    with pytest.raises(AllegroRejected) as caught:
        await client.orders.add_shipment(FORM_ID, "DPD", "W-1", None, [])

    assert len(str(caught.value)) < 500
    assert caught.value.code is not None
    assert len(caught.value.code) <= 100
    assert caught.value.code.isprintable()


async def test_allegros_error_words_lose_token_like_runs(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    body = errors_body("VALIDATION_ERROR", f"token {JWT_LIKE} is not allowed here")
    respx_mock.post(SHIPMENTS_URL).mock(return_value=vendor(400, body))

    with pytest.raises(AllegroRejected) as caught:
        await client.orders.add_shipment(FORM_ID, "DPD", "W-1", None, [])

    assert JWT_LIKE not in str(caught.value)
    assert "is not allowed here" in str(caught.value)


# --- GET /order/carriers -------------------------------------------------------------------


async def test_the_carrier_ids_are_whatever_allegro_lists(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    body = {
        "carriers": [
            {"id": "INPOST", "name": "InPost"},
            {"id": "NEW_CARRIER_2027", "name": "Someone new", "extra": [1]},
            {"id": "OTHER"},
        ]
    }
    respx_mock.get(CARRIERS_URL).mock(return_value=vendor(200, body))

    assert await client.orders.carrier_ids() == frozenset({"INPOST", "NEW_CARRIER_2027", "OTHER"})


# --- hostile bodies ------------------------------------------------------------------------

_READS: dict[str, tuple[str, str, Callable[[AllegroClient], Awaitable[object]]]] = {
    "list": ("GET", SHIPMENTS_URL, lambda c: c.orders.shipments(FORM_ID)),
    "post": ("POST", SHIPMENTS_URL, lambda c: c.orders.add_shipment(FORM_ID, "DPD", "W", None, [])),
    "carriers": ("GET", CARRIERS_URL, lambda c: c.orders.carrier_ids()),
}


def _shipments(*items: Any) -> bytes:
    return json.dumps({"shipments": list(items)}).encode()


HOSTILE = [
    ("list", b"<html>Service Unavailable</html>", "not-json"),
    ("list", DEEP, "nested-100000-deep"),
    ("list", b'{"shipments": ' + b"9" * 5_000 + b"}", "int-of-5000-digits"),
    ("list", b'{"shipments": {}}', "shipments-not-a-list"),
    ("list", b"[]", "top-level-list"),
    ("list", _shipments({"id": "x", "waybill": "W"}), "no-carrier"),
    ("list", _shipments(shipment_json(id="a" * 300)), "id-too-long"),
    ("list", _shipments(shipment_json(id="has space\x00")), "id-not-printable"),
    ("list", _shipments(shipment_json(waybill="W" * 10_000)), "waybill-too-long"),
    ("list", _shipments(shipment_json(lineItems=[{"id": None}])), "line-item-without-id"),
    ("post", b"", "empty-201"),
    ("post", b'{"id": "x"}', "201-without-fields"),
    ("post", DEEP, "201-nested"),
    ("carriers", b'{"carriers": [{"name": "no id"}]}', "carrier-without-id"),
    ("carriers", b'{"carriers": "INPOST"}', "carriers-not-a-list"),
    ("carriers", b"null", "null"),
]


@pytest.mark.parametrize(
    ("call", "body"), [pytest.param(c, b, id=f"{c}-{i}") for c, b, i in HOSTILE]
)
async def test_a_hostile_body_is_malformed_and_the_post_still_goes_once(
    respx_mock: respx.MockRouter, client: AllegroClient, call: str, body: bytes
) -> None:
    method, url, operation = _READS[call]
    route = respx_mock.route(method=method, url=url).mock(
        return_value=raw(201 if method == "POST" else 200, body)
    )

    with pytest.raises(MalformedBody):
        await operation(client)

    assert route.call_count == 1


@pytest.mark.parametrize("call", sorted(_READS))
async def test_a_body_over_the_size_limit_is_malformed(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient], call: str
) -> None:
    method, url, operation = _READS[call]
    padding = "p" * 4_096
    body = {"shipments": [], "carriers": [], "padding": padding, **shipment_json()}
    respx_mock.route(method=method, url=url).mock(
        return_value=vendor(201 if method == "POST" else 200, body)
    )

    client = make_client(max_body_bytes=1_024)
    with pytest.raises(MalformedBody, match="larger than 1024 bytes"):
        await operation(client)


# --- the shipments resource's own cap ------------------------------------------------------


async def test_shipment_reads_and_posts_together_stay_within_50_a_second(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient], time: FakeTime
) -> None:
    """The shared budget is set wide open here: only the resource's cap can space them."""
    sent: list[float] = []

    def answer(status: int, body: Any) -> Callable[[httpx.Request], httpx.Response]:
        def reply(request: httpx.Request) -> httpx.Response:
            sent.append(time.monotonic())
            return vendor(status, body)

        return reply

    respx_mock.get(SHIPMENTS_URL).mock(side_effect=answer(200, {"shipments": []}))
    respx_mock.post(SHIPMENTS_URL).mock(side_effect=answer(201, shipment_json()))
    client = make_client(rate_limit_per_minute=9_000, rate_limit_burst=1_000)
    reads = [client.orders.shipments(FORM_ID) for _ in range(70)]
    posts = [client.orders.add_shipment(FORM_ID, "DPD", "W", None, []) for _ in range(70)]
    await asyncio.gather(*reads, *posts)

    sent.sort()
    assert len(sent) == 140
    assert sent[9] == sent[0]  # a small burst leaves at once...
    assert min(sent[i + 50] - sent[i] for i in range(len(sent) - 50)) >= 1.0  # ...never 51
    # ...and any second holds at most 40 departures: 10 more would have to arrive out of
    # step by a quarter of a second to bunch into Allegro's second.
    assert min(sent[i + 40] - sent[i] for i in range(len(sent) - 40)) >= 1.0


async def test_carrier_reads_stay_within_50_a_second(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient], time: FakeTime
) -> None:
    sent: list[float] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return vendor(200, {"carriers": [{"id": "OTHER"}]})

    respx_mock.get(CARRIERS_URL).mock(side_effect=reply)
    client = make_client(rate_limit_per_minute=9_000, rate_limit_burst=1_000)
    await asyncio.gather(*(client.orders.carrier_ids() for _ in range(60)))

    sent.sort()
    assert min(sent[i + 50] - sent[i] for i in range(len(sent) - 50)) >= 1.0


async def test_writes_draw_from_the_same_budget_as_the_reads(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient], time: FakeTime
) -> None:
    """One token a second, no burst: a write right after a read waits for its token."""
    respx_mock.get(f"{API_URL}/order/event-stats").respond(200, json={})
    respx_mock.put(FULFILLMENT_URL).mock(return_value=httpx.Response(204))
    client = make_client(rate_limit_per_minute=60, rate_limit_burst=1)
    await client.journal.latest_event_id()
    await client.orders.set_fulfillment_status(FORM_ID, "SENT", None)

    assert time.sleeps == [pytest.approx(1.0)]
