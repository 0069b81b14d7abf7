"""Checkout forms: the document, the list with its filters and window, fulfillment writes."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.simulator.conftest import VENDOR, Sim

pytestmark = pytest.mark.integration

_CURRENCIES = {"allegro-pl": "PLN", "allegro-cz": "CZK", "allegro-sk": "EUR", "allegro-hu": "HUF"}


def test_a_checkout_form_has_allegros_shape_with_explicit_nulls(sim: Sim) -> None:
    order_id = sim.state.place_order(payment="ONLINE", invoice=True, pickup_point=True)
    sim.state.pay(order_id)

    form = sim.get(f"/order/checkout-forms/{order_id}").json()

    assert list(form) == [
        "id", "messageToSeller", "buyer", "payment", "status", "fulfillment", "delivery",
        "invoice", "lineItems", "surcharges", "note", "marketplace", "summary", "updatedAt",
        "revision",
    ]  # fmt: skip
    assert form["note"] is None
    assert form["buyer"]["personalIdentity"] is None
    assert set(form["buyer"]["address"]) == {"street", "city", "postCode", "countryCode"}
    assert form["delivery"]["address"]["zipCode"]
    assert form["delivery"]["pickupPoint"]["id"] in form["delivery"]["pickupPoint"]["name"]
    assert form["delivery"]["time"]["guaranteed"] is None
    assert form["invoice"]["required"] is True
    assert form["invoice"]["address"]["company"]["ids"][0]["type"] == "PL_NIP"
    assert form["fulfillment"] == {
        "status": "NEW",
        "shipmentSummary": {"lineItemsSent": "NONE"},
        "provider": {"id": "SELLER"},
    }
    assert re.fullmatch(r"[0-9a-f]{8}", form["revision"])
    assert form["surcharges"] == []


def test_money_is_strings_and_the_total_adds_up(sim: Sim) -> None:
    order_id = sim.state.place_order(payment="ONLINE", line_items=3)
    sim.state.pay(order_id)

    form = sim.get(f"/order/checkout-forms/{order_id}").json()

    items = sum(Decimal(i["price"]["amount"]) * i["quantity"] for i in form["lineItems"])
    total = items + Decimal(form["delivery"]["cost"]["amount"])
    assert form["summary"]["totalToPay"]["amount"] == f"{total:.2f}"
    assert form["payment"]["paidAmount"] == form["summary"]["totalToPay"]
    for item in form["lineItems"]:
        assert Decimal(item["originalPrice"]["amount"]) >= Decimal(item["price"]["amount"])
        assert re.fullmatch(r"\d+\.\d\d", item["price"]["amount"])


def test_explicit_line_items_are_used_as_given(sim: Sim) -> None:
    spec = {"offer_id": "17034458812", "name": "Konewka", "sku": "KON-10L-GR", "quantity": 2,
            "price": "35.99", "original_price": "39.99"}  # fmt: skip
    order_id = sim.state.place_order(line_items=[spec])  # type: ignore[list-item]

    (item,) = sim.state.checkout_form(order_id)["lineItems"]

    assert item["offer"] == {"id": "17034458812", "name": "Konewka",
                             "external": {"id": "KON-10L-GR"}, "productSet": None}  # fmt: skip
    assert (item["quantity"], item["price"]["amount"]) == (2, "35.99")
    assert item["originalPrice"]["amount"] == "39.99"


@pytest.mark.parametrize("marketplace", sorted(_CURRENCIES))
def test_currency_follows_the_marketplace(sim: Sim, marketplace: str) -> None:
    order_id = sim.state.place_order(marketplace=marketplace)

    form = sim.state.checkout_form(order_id)

    currencies = {form["summary"]["totalToPay"]["currency"], form["delivery"]["cost"]["currency"]}
    currencies |= {i["price"]["currency"] for i in form["lineItems"]}
    assert currencies == {_CURRENCIES[marketplace]}


def test_cash_on_delivery_is_ready_without_a_paid_amount(sim: Sim) -> None:
    order_id = sim.state.place_order(payment="CASH_ON_DELIVERY")
    sim.state.pay(order_id)

    form = sim.get(f"/order/checkout-forms/{order_id}").json()

    assert form["status"] == "READY_FOR_PROCESSING"
    assert form["payment"]["type"] == "CASH_ON_DELIVERY"
    assert form["payment"]["provider"] is None
    assert form["payment"]["paidAmount"] is None
    assert form["payment"]["finishedAt"] is not None


def test_an_unpaid_order_has_no_payment_yet(sim: Sim) -> None:
    order_id = sim.state.place_order()
    bought = sim.state.checkout_form(order_id)
    sim.state.fill_in(order_id)

    filled = sim.state.checkout_form(order_id)

    assert bought["payment"] is None
    assert filled["status"] == "FILLED_IN"
    assert filled["payment"]["finishedAt"] is None


def test_an_unknown_checkout_form_is_a_404(sim: Sim) -> None:
    response = sim.get("/order/checkout-forms/29738e61-7f6a-11e8-ac45-09db60ede9d6")

    assert response.status_code == 404
    error = response.json()["errors"][0]
    assert error["code"] == "CheckoutFormNotFoundException"
    assert error["message"] == "Checkout form 29738e61-7f6a-11e8-ac45-09db60ede9d6 not found."


def test_a_malformed_checkout_form_id_is_a_422(sim: Sim) -> None:
    assert sim.get("/order/checkout-forms/not-a-uuid").status_code == 422


def test_a_surcharge_grows_the_total_and_re_emits_ready_for_processing(sim: Sim) -> None:
    order_id = sim.state.place_order(payment="ONLINE")
    sim.state.pay(order_id)
    before = sim.state.checkout_form(order_id)
    sim.clock.advance(1)

    sim.state.add_surcharge(order_id, "12.50")

    after = sim.get(f"/order/checkout-forms/{order_id}").json()
    grown = Decimal(after["summary"]["totalToPay"]["amount"])
    assert grown == Decimal(before["summary"]["totalToPay"]["amount"]) + Decimal("12.50")
    assert after["surcharges"][0]["paidAmount"]["amount"] == "12.50"
    assert after["updatedAt"] > before["updatedAt"]
    types = [e["type"] for e in sim.state.journal()]
    assert types.count("READY_FOR_PROCESSING") == 2


def test_merging_purchases_makes_a_new_form_and_the_old_ones_vanish(sim: Sim) -> None:
    first, second = sim.state.place_order(), sim.state.place_order()
    item_ids = [
        i["id"] for oid in (first, second) for i in sim.state.checkout_form(oid)["lineItems"]
    ]

    merged = sim.state.merge([first, second])

    assert sim.get(f"/order/checkout-forms/{first}").status_code == 404
    assert sim.get(f"/order/checkout-forms/{second}").status_code == 404
    form = sim.get(f"/order/checkout-forms/{merged}").json()
    assert [i["id"] for i in form["lineItems"]] == item_ids
    assert sim.state.journal()[-1]["order"]["checkoutForm"]["id"] == merged


def test_fulfillment_change_moves_revision_but_not_updated_at(sim: Sim) -> None:
    order_id = sim.state.place_order()
    sim.state.pay(order_id)
    before = sim.state.checkout_form(order_id)
    sim.clock.advance(30)

    response = sim.put_fulfillment(order_id, "PROCESSING", before["revision"])

    after = sim.get(f"/order/checkout-forms/{order_id}").json()
    assert response.status_code == 204
    assert after["fulfillment"]["status"] == "PROCESSING"
    assert after["revision"] != before["revision"]
    assert after["updatedAt"] == before["updatedAt"]
    event = sim.state.journal()[-1]
    assert event["type"] == "FULFILLMENT_STATUS_CHANGED"
    assert event["order"]["checkoutForm"]["revision"] == after["revision"]


def test_a_stale_revision_is_a_409(sim: Sim) -> None:
    order_id = sim.state.place_order()
    stale = sim.state.revision_of(order_id)
    sim.state.pay(order_id)

    response = sim.put_fulfillment(order_id, "PROCESSING", stale)

    assert response.status_code == 409
    assert sim.state.checkout_form(order_id)["fulfillment"]["status"] == "NEW"


def test_without_a_revision_the_write_is_unconditional(sim: Sim) -> None:
    order_id = sim.state.place_order()

    assert sim.put_fulfillment(order_id, "SUSPENDED").status_code == 204
    assert sim.state.checkout_form(order_id)["fulfillment"]["status"] == "SUSPENDED"


@pytest.mark.parametrize("status", ["RETURNED", "LOST", ""])
def test_returned_and_unknown_statuses_cannot_be_set(sim: Sim, status: str) -> None:
    order_id = sim.state.place_order()

    assert sim.put_fulfillment(order_id, status).status_code == 422


def test_fulfillment_put_needs_the_vendor_content_type(sim: Sim) -> None:
    order_id = sim.state.place_order()

    response = sim.http.put(
        f"/order/checkout-forms/{order_id}/fulfillment",
        json={"status": "SENT"},
        headers=sim.headers,  # httpx sends application/json
    )

    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "NotSupportedException"


def test_fulfillment_put_on_an_unknown_order_is_a_404(sim: Sim) -> None:
    assert sim.put_fulfillment("29738e61-7f6a-11e8-ac45-09db60ede9d6", "SENT").status_code == 404


def test_allegro_sets_returned_itself(sim: Sim) -> None:
    order_id = sim.state.place_order()
    sim.state.pay(order_id)

    sim.state.returned(order_id)

    assert sim.state.checkout_form(order_id)["fulfillment"]["status"] == "RETURNED"
    assert sim.state.journal()[-1]["type"] == "FULFILLMENT_STATUS_CHANGED"


# ------------------------------------------------------------------ the list endpoint


def _list(sim: Sim, **params: Any) -> dict[str, Any]:
    response = sim.get("/order/checkout-forms", **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _bought(form: dict[str, Any]) -> str:
    return max(i["boughtAt"] for i in form["lineItems"])


@pytest.fixture
def populated(sim: Sim) -> Sim:
    """~150 orders spread over time, several statuses and marketplaces."""
    rng = random.Random(7)
    for _ in range(150):
        sim.clock.advance(rng.uniform(1, 600))
        order_id = sim.state.place_order(marketplace=rng.choice(sorted(_CURRENCIES)))
        step = rng.random()
        if step < 0.6:
            sim.state.pay(order_id)
            if rng.random() < 0.5:
                sim.state.set_fulfillment(order_id, rng.choice(["PROCESSING", "SENT"]))
        elif step < 0.7:
            sim.state.auto_cancel(order_id)
    return sim


def test_the_default_list_is_newest_purchase_first(populated: Sim) -> None:
    body = _list(populated)

    bought = [_bought(f) for f in body["checkoutForms"]]
    assert body["count"] == 100
    assert body["totalCount"] == 150
    assert bought == sorted(bought, reverse=True)


def test_list_filters_match_a_brute_force_reference(populated: Sim) -> None:
    sim = populated
    forms = [sim.state.checkout_form(oid) for oid in sim.state.order_ids()]
    start = datetime.fromtimestamp(sim.clock.wall(), tz=UTC) - timedelta(hours=10)
    cut = _iso(start)
    cases: list[dict[str, Any]] = [
        {"status": "READY_FOR_PROCESSING"},
        {"status": "READY_FOR_PROCESSING", "fulfillment.status": "SENT"},
        {"fulfillment.status": "NEW", "marketplace.id": "allegro-cz"},
        {"status": "BOUGHT", "fulfillment.status": "NEW", "marketplace.id": "allegro-sk"},
        {"status": "CANCELLED", "fulfillment.status": "NEW", "sort": "updatedAt"},
        {"lineItems.boughtAt.gte": cut, "sort": "lineItems.boughtAt"},
        {"updatedAt.lte": cut, "status": "CANCELLED", "sort": "-updatedAt"},
        {"updatedAt.gte": cut, "marketplace.id": "allegro-pl", "offset": 3, "limit": 5},
        {"buyer.login": forms[0]["buyer"]["login"]},
    ]
    for params in cases:
        expected = [f for f in forms if _accepts(f, params)]
        key = "updatedAt" if "updatedAt" in params.get("sort", "") else None
        expected.sort(key=lambda f: f[key] if key else _bought(f))
        if params.get("sort", "-").startswith("-"):
            expected.reverse()
        offset, limit = params.get("offset", 0), params.get("limit", 100)

        body = _list(sim, **params)

        assert body["totalCount"] == len(expected), params
        got = [f["id"] for f in body["checkoutForms"]]
        assert got == [f["id"] for f in expected[offset : offset + limit]], params


def _accepts(form: dict[str, Any], params: dict[str, Any]) -> bool:
    checks = {
        "status": form["status"],
        "fulfillment.status": form["fulfillment"]["status"],
        "marketplace.id": form["marketplace"]["id"],
        "buyer.login": form["buyer"]["login"],
    }
    for name, value in checks.items():
        if name in params and params[name] != value:
            return False
    bought, updated = _bought(form), form["updatedAt"]
    return (
        bought >= params.get("lineItems.boughtAt.gte", "")
        and updated >= params.get("updatedAt.gte", "")
        and updated <= params.get("updatedAt.lte", "~")
    )


def test_list_date_filters_accept_offsets_and_no_millis(populated: Sim) -> None:
    everything = _list(populated, **{"lineItems.boughtAt.gte": "2000-01-01T00:00:00+02:00"})
    nothing = _list(populated, **{"lineItems.boughtAt.lte": "2000-01-01T00:00:00Z"})

    assert everything["totalCount"] == 150
    assert nothing == {"checkoutForms": [], "count": 0, "totalCount": 0}


def test_the_ten_thousand_window(sim: Sim) -> None:
    assert sim.get("/order/checkout-forms", offset=9900, limit=100).status_code == 200
    assert sim.get("/order/checkout-forms", offset=9901, limit=100).status_code == 422
    assert sim.get("/order/checkout-forms", offset=10000).status_code == 422


@pytest.mark.parametrize("limit", ["0", "101"])
def test_list_limit_is_1_to_100(sim: Sim, limit: str) -> None:
    assert sim.get("/order/checkout-forms", limit=limit).status_code == 422


@pytest.mark.parametrize(
    "param", [{"status": "PAID"}, {"sort": "price"}, {"updatedAt.gte": "yesterday"}]
)
def test_illegal_list_parameter_values_are_a_400(sim: Sim, param: dict[str, str]) -> None:
    assert sim.get("/order/checkout-forms", **param).status_code == 400


def test_the_list_needs_the_vendor_accept_header_too(sim: Sim) -> None:
    headers = {"Authorization": sim.headers["Authorization"], "Accept": "application/json"}

    assert sim.http.get("/order/checkout-forms", headers=headers).status_code == 406
    assert sim.headers["Accept"] == VENDOR
