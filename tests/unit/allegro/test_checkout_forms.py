"""`forms.get` and `forms.search` over a fake Allegro."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from adapters.allegro import MalformedResponse
from adapters.allegro.httpx_checkout_form_reader import search_params
from application.ports.allegro import (
    CheckoutFormQuery,
    CheckoutFormReader,
    PurchaseOrder,
    UnreadableCheckoutForm,
)
from application.ports.errors import AllegroRejected, CheckoutFormNotFound, MalformedCheckoutForm
from domain.order import OrderSnapshot

from .builders import FORM_ID, make_checkout_form, without
from .fakes import VENDOR, allegro_error, make_harness, vendor_json

FORM_PATH = f"/order/checkout-forms/{FORM_ID}"


async def test_get_reads_a_checkout_form() -> None:
    h = make_harness()
    h.fake.script(FORM_PATH, vendor_json(200, make_checkout_form()))

    order = await h.client.forms.get(FORM_ID)

    assert isinstance(order, OrderSnapshot)
    assert order.id == FORM_ID
    (request,) = h.fake.api_requests
    assert request.headers["Accept"] == VENDOR
    assert "Content-Type" not in request.headers  # no body, no content type


async def test_get_reports_the_path_template_not_the_id() -> None:
    h = make_harness()
    h.fake.script(FORM_PATH, vendor_json(200, make_checkout_form()))

    await h.client.forms.get(FORM_ID)

    assert [(e, s) for e, s, _ in h.observer.requests] == [("/order/checkout-forms/{id}", 200)]


@pytest.mark.parametrize("form_id", [".", "..", "a/b", "", f"{FORM_ID}\x00", f"{FORM_ID}/x"])
async def test_an_id_that_is_not_a_uuid_is_malformed_and_never_requested(form_id: str) -> None:
    h = make_harness()

    with pytest.raises(MalformedCheckoutForm) as caught:
        await h.client.forms.get(form_id)

    assert "not a checkout form id" in caught.value.unreadable.reason
    assert h.fake.api_requests == []  # `.` would have named the list endpoint


async def test_404_is_checkout_form_not_found() -> None:
    h = make_harness()
    h.fake.script(
        FORM_PATH,
        allegro_error(404, "CheckoutFormNotFoundException", f"Checkout form {FORM_ID} not found."),
    )

    with pytest.raises(CheckoutFormNotFound) as caught:
        await h.client.forms.get(FORM_ID)

    assert caught.value.checkout_form_id == FORM_ID
    assert isinstance(caught.value.__cause__, AllegroRejected)


async def test_an_unreadable_form_is_malformed_with_id_raw_text_and_reason() -> None:
    h = make_harness()
    body = without(make_checkout_form(), "lineItems")
    h.fake.script(FORM_PATH, vendor_json(200, body))

    with pytest.raises(MalformedCheckoutForm) as caught:
        await h.client.forms.get(FORM_ID)

    unreadable = caught.value.unreadable
    assert unreadable.checkout_form_id == FORM_ID
    assert json.loads(unreadable.raw) == body
    assert "lineItems" in unreadable.reason


async def test_a_domain_invalid_value_is_malformed() -> None:
    h = make_harness()
    body = make_checkout_form(summary={"totalToPay": {"amount": "NaN", "currency": "PLN"}})
    h.fake.script(FORM_PATH, vendor_json(200, body))

    with pytest.raises(MalformedCheckoutForm, match="finite"):
        await h.client.forms.get(FORM_ID)


async def test_a_non_json_form_body_is_malformed_and_keeps_the_requested_id() -> None:
    h = make_harness()
    h.fake.script(FORM_PATH, httpx.Response(200, text="{truncated"))

    with pytest.raises(MalformedCheckoutForm) as caught:
        await h.client.forms.get(FORM_ID)

    assert caught.value.unreadable.checkout_form_id == FORM_ID
    assert caught.value.unreadable.raw == "{truncated"


async def test_search_builds_the_query_and_reads_every_item() -> None:
    h = make_harness()
    bad = {"id": "0f0f0f0f-0000-11f1-8000-00000000000b", "status": "READY_FOR_PROCESSING"}
    page = {"checkoutForms": [make_checkout_form(), bad], "count": 2, "totalCount": 57}
    h.fake.script("/order/checkout-forms", vendor_json(200, page))
    query = CheckoutFormQuery(
        offset=100,
        limit=50,
        status="READY_FOR_PROCESSING",
        fulfillment_status="NEW",
        bought_at_gte=datetime(2026, 3, 1, tzinfo=UTC),
        bought_at_lte=datetime(2026, 3, 14, 9, 12, 40, 118999, tzinfo=UTC),
        updated_at_gte=datetime(2026, 3, 2, 1, 0, tzinfo=timezone(timedelta(hours=1))),
        updated_at_lte=datetime(2026, 3, 3, 4, 5, 6),  # naive: read as UTC
        order="oldest_first",
    )

    result = await h.client.forms.search(query)

    assert dict(h.fake.api_requests[0].url.params) == {
        "offset": "100",
        "limit": "50",
        "status": "READY_FOR_PROCESSING",
        "fulfillment.status": "NEW",
        "lineItems.boughtAt.gte": "2026-03-01T00:00:00.000Z",
        "lineItems.boughtAt.lte": "2026-03-14T09:12:40.118Z",
        "updatedAt.gte": "2026-03-02T00:00:00.000Z",
        "updatedAt.lte": "2026-03-03T04:05:06.000Z",
        "sort": "lineItems.boughtAt",
    }
    assert result.total_count == 57
    good, unreadable = result.items
    assert isinstance(good, OrderSnapshot)
    assert isinstance(unreadable, UnreadableCheckoutForm)
    assert unreadable.checkout_form_id == bad["id"]
    assert json.loads(unreadable.raw) == bad


def test_default_query_params() -> None:
    assert search_params(CheckoutFormQuery()) == {
        "offset": "0",
        "limit": "100",
        "sort": "-lineItems.boughtAt",
    }


async def test_search_translates_only_the_wanted_forms_and_counts_them_all() -> None:
    h = make_harness()
    wanted = make_checkout_form()
    other = {**make_checkout_form(), "id": "0f0f0f0f-0000-11f1-8000-00000000000c"}
    nameless = {"status": "READY_FOR_PROCESSING"}  # no id to tell: kept, as unreadable
    page = {"checkoutForms": [other, wanted, nameless], "count": 3, "totalCount": 3}
    h.fake.script("/order/checkout-forms", vendor_json(200, page))

    result = await h.client.forms.search(CheckoutFormQuery(), wanted={wanted["id"]})

    # `wanted` is the reader's own filtering, never a query parameter
    assert set(h.fake.api_requests[0].url.params) == {"offset", "limit", "sort"}
    listed, unreadable = result.items
    assert isinstance(listed, OrderSnapshot)
    assert listed.id == wanted["id"]
    assert isinstance(unreadable, UnreadableCheckoutForm)
    assert unreadable.checkout_form_id is None
    assert result.total_count == 3


@pytest.mark.parametrize(
    ("order", "sort"),
    [("oldest_first", "lineItems.boughtAt"), ("newest_first", "-lineItems.boughtAt")],
)
def test_the_purchase_time_order_is_sent_as_allegros_sort(order: PurchaseOrder, sort: str) -> None:
    assert search_params(CheckoutFormQuery(order=order))["sort"] == sort


@pytest.mark.parametrize(
    ("offset", "limit"), [(0, 0), (0, 101), (-1, 10), (9_950, 100), (10_000, 1)]
)
def test_search_rejects_paging_outside_allegros_window(offset: int, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        search_params(CheckoutFormQuery(offset=offset, limit=limit))


def test_search_accepts_the_last_page_of_the_window() -> None:
    assert search_params(CheckoutFormQuery(offset=9_900, limit=100))["offset"] == "9900"


async def test_an_empty_page() -> None:
    h = make_harness()
    page = {"checkoutForms": [], "count": 0, "totalCount": 0}
    h.fake.script("/order/checkout-forms", vendor_json(200, page))

    result = await h.client.forms.search(CheckoutFormQuery())

    assert (result.items, result.total_count) == ((), 0)


async def test_a_page_of_the_wrong_shape_is_a_clear_error() -> None:
    h = make_harness()
    h.fake.script("/order/checkout-forms", vendor_json(200, {"forms": []}))

    with pytest.raises(MalformedResponse, match="checkoutForms"):
        await h.client.forms.search(CheckoutFormQuery())


def test_the_reader_implements_the_port_explicitly() -> None:
    h = make_harness()

    assert CheckoutFormReader in type(h.client.forms).__mro__
