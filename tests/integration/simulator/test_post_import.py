"""What happens to an order after it was imported, over real HTTP: buyer changes
(BUYER_MODIFIED), One Fulfillment, surcharges, extended-term payments, partial shipments,
and the list filters on them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.simulator.conftest import Sim

pytestmark = pytest.mark.integration


def _form(sim: Sim, order_id: str) -> dict[str, Any]:
    response = sim.get(f"/order/checkout-forms/{order_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _events(sim: Sim, order_id: str) -> list[dict[str, Any]]:
    response = sim.get("/order/events", limit=1000)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return [e for e in events if e["order"]["checkoutForm"]["id"] == order_id]


def _admin(sim: Sim, path: str, body: dict[str, Any] | None = None) -> Any:
    return sim.http.post(f"/__sim{path}", json=body or {})


def _paid_order(sim: Sim, **options: Any) -> str:
    order_id = sim.state.place_order(payment="ONLINE", **options)
    sim.state.pay(order_id)
    sim.clock.advance(60)
    return order_id


def _differing(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {key for key in before if before[key] != after[key]}


# ------------------------------------------------------------------ buyer changes


def test_an_address_change_after_payment_is_buyer_modified(sim: Sim) -> None:
    order_id = _paid_order(sim, pickup_point=False)
    before = _form(sim, order_id)

    response = _admin(sim, f"/orders/{order_id}/buyer-change", {"change": "address"})

    assert response.status_code == 200, response.text
    after = _form(sim, order_id)
    assert response.json()["revision"] == after["revision"] != before["revision"]
    assert _differing(before, after) == {"delivery", "updatedAt", "revision"}
    assert after["updatedAt"] > before["updatedAt"]
    old, new = before["delivery"]["address"], after["delivery"]["address"]
    assert old["modifiedAt"] is None
    assert new["modifiedAt"] == after["updatedAt"]
    assert (new["street"], new["city"], new["zipCode"]) != (
        old["street"],
        old["city"],
        old["zipCode"],
    )
    assert (new["firstName"], new["lastName"]) == (old["firstName"], old["lastName"])
    assert after["status"] == "READY_FOR_PROCESSING"
    last = _events(sim, order_id)[-1]
    assert last["type"] == "BUYER_MODIFIED"
    assert last["order"]["checkoutForm"]["revision"] == after["revision"]


@pytest.mark.parametrize(
    ("change", "parts"),
    [
        ("phone", {"delivery"}),
        ("pickup_point", {"delivery"}),
        ("invoice", {"invoice"}),
        ("resave", set()),
    ],
)
def test_each_buyer_change_touches_its_own_part(sim: Sim, change: str, parts: set[str]) -> None:
    order_id = _paid_order(sim, pickup_point=True, invoice=True)
    before = _form(sim, order_id)

    response = _admin(sim, f"/orders/{order_id}/buyer-change", {"change": change})

    assert response.status_code == 200, response.text
    after = _form(sim, order_id)
    assert _differing(before, after) == parts | {"updatedAt", "revision"}
    assert [e["type"] for e in _events(sim, order_id)][-1] == "BUYER_MODIFIED"
    old, new = before["delivery"], after["delivery"]
    if change == "phone":
        assert new["address"]["phoneNumber"] != old["address"]["phoneNumber"]
        assert new["address"]["modifiedAt"] == after["updatedAt"]
    if change == "pickup_point":
        assert new["pickupPoint"]["id"] != old["pickupPoint"]["id"]
        assert new["method"] == old["method"]
        assert new["address"] == old["address"]
    if change == "invoice":
        company = after["invoice"]["address"]["company"]
        assert company["name"] != before["invoice"]["address"]["company"]["name"]
        assert company["ids"] != before["invoice"]["address"]["company"]["ids"]


def test_buyer_changes_are_refused_where_allegro_refuses_them(sim: Sim) -> None:
    unpaid = sim.state.place_order()
    courier = _paid_order(sim, pickup_point=False)

    not_paid = _admin(sim, f"/orders/{unpaid}/buyer-change", {"change": "address"})
    no_point = _admin(sim, f"/orders/{courier}/buyer-change", {"change": "pickup_point"})
    unknown_change = _admin(sim, f"/orders/{courier}/buyer-change", {"change": "email"})
    unknown_order = _admin(
        sim, "/orders/29738e61-7f6a-11e8-ac45-09db60ede9d6/buyer-change", {"change": "phone"}
    )

    assert (not_paid.status_code, no_point.status_code) == (409, 409)
    assert unknown_change.status_code == 400
    assert unknown_order.status_code == 404
    assert [e["type"] for e in _events(sim, courier)] == ["BOUGHT", "READY_FOR_PROCESSING"]


# ------------------------------------------------------------------ payments


def test_a_paid_surcharge_is_a_payment_of_its_own(sim: Sim) -> None:
    order_id = _paid_order(sim)
    before = _form(sim, order_id)

    response = _admin(sim, f"/orders/{order_id}/surcharge", {"amount": "12.50"})

    assert response.status_code == 200, response.text
    after = _form(sim, order_id)
    (surcharge,) = after["surcharges"]
    currency = before["summary"]["totalToPay"]["currency"]
    assert surcharge["id"] == response.json()["surchargeId"] != after["payment"]["id"]
    assert surcharge["paidAmount"] == {"amount": "12.50", "currency": currency}
    assert surcharge["type"] == "ONLINE"
    assert surcharge["provider"] in {"P24", "PAYU"}
    assert surcharge["finishedAt"] == after["updatedAt"]
    assert set(surcharge) == set(after["payment"])  # the payment-reference shape
    old_total = Decimal(before["summary"]["totalToPay"]["amount"])
    assert Decimal(after["summary"]["totalToPay"]["amount"]) == old_total + Decimal("12.50")
    assert after["payment"] == before["payment"]
    types = [e["type"] for e in _events(sim, order_id)]
    assert types == ["BOUGHT", "READY_FOR_PROCESSING", "READY_FOR_PROCESSING"]


@pytest.mark.parametrize("amount", ["-1", "0", "abc", 12])
def test_a_surcharge_amount_must_be_a_positive_decimal_string(sim: Sim, amount: Any) -> None:
    order_id = _paid_order(sim)

    response = _admin(sim, f"/orders/{order_id}/surcharge", {"amount": amount})

    assert response.status_code == 400
    assert _form(sim, order_id)["surcharges"] == []


def test_an_extended_term_payment_is_ready_first_and_paid_later(sim: Sim) -> None:
    placed = _admin(sim, "/orders", {"count": 1, "payment": "EXTENDED_TERM"})
    (order_id,) = placed.json()["ids"]
    sim.clock.advance(3600)
    ready = _form(sim, order_id)

    response = _admin(sim, f"/orders/{order_id}/extended-term-settlement")

    assert response.status_code == 200, response.text
    settled = _form(sim, order_id)
    payment = ready["payment"]
    assert (payment["type"], payment["provider"]) == ("EXTENDED_TERM", "EPT")
    assert (payment["finishedAt"], payment["paidAmount"]) == (None, None)
    assert ready["status"] == settled["status"] == "READY_FOR_PROCESSING"
    bought = datetime.fromisoformat(ready["lineItems"][0]["boughtAt"])
    assert ready["invoice"]["required"] is True
    assert ready["invoice"]["dueDate"] == (bought + timedelta(days=30)).date().isoformat()
    assert settled["payment"]["id"] == payment["id"]
    assert settled["payment"]["finishedAt"] == settled["updatedAt"] > ready["updatedAt"]
    assert settled["payment"]["paidAmount"] == settled["summary"]["totalToPay"]
    assert settled["revision"] != ready["revision"]
    events = _events(sim, order_id)
    assert [e["type"] for e in events] == ["BOUGHT", *["READY_FOR_PROCESSING"] * 2]
    assert events[-1]["order"]["checkoutForm"]["revision"] == settled["revision"]
    again = _admin(sim, f"/orders/{order_id}/extended-term-settlement")
    assert again.status_code == 409  # the money arrives once


def test_only_an_extended_term_payment_can_be_settled(sim: Sim) -> None:
    order_id = _paid_order(sim)

    response = _admin(sim, f"/orders/{order_id}/extended-term-settlement")

    assert response.status_code == 409
    assert len(_events(sim, order_id)) == 2


# ------------------------------------------------------------------ fulfillment


def test_a_one_fulfillment_order_is_shipped_by_allegro(sim: Sim) -> None:
    ids = _admin(sim, "/orders", {"count": 2, "one_fulfillment": True}).json()["ids"]
    plain = _admin(sim, "/orders", {"count": 1}).json()["ids"]

    providers = [_form(sim, oid)["fulfillment"]["provider"]["id"] for oid in ids + plain]

    assert providers == ["ALLEGRO", "ALLEGRO", "SELLER"]


def test_line_items_sent_follows_the_shipments(sim: Sim) -> None:
    order_id = _paid_order(sim, line_items=3)
    assert sim.put_fulfillment(order_id, "PROCESSING").status_code == 204
    processing = _form(sim, order_id)
    events_before = len(_events(sim, order_id))

    response = _admin(sim, f"/orders/{order_id}/shipment", {"count": 1})
    partly = _form(sim, order_id)
    events_after = len(_events(sim, order_id))
    assert sim.put_fulfillment(order_id, "SENT").status_code == 204
    sent = _form(sim, order_id)

    assert response.status_code == 200, response.text
    assert processing["fulfillment"]["shipmentSummary"]["lineItemsSent"] == "NONE"
    assert partly["fulfillment"]["shipmentSummary"]["lineItemsSent"] == "SOME"
    assert partly["fulfillment"]["status"] == "PROCESSING"
    assert partly["revision"] != processing["revision"]
    assert partly["updatedAt"] == processing["updatedAt"]  # a seller-side change
    assert events_after == events_before  # no event for tracking numbers
    assert sent["fulfillment"]["shipmentSummary"]["lineItemsSent"] == "ALL"


# ------------------------------------------------------------------ the list filters


def _list_ids(sim: Sim, **params: Any) -> list[str]:
    response = sim.get("/order/checkout-forms", **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totalCount"] == len(body["checkoutForms"])  # every case fits one page
    return [f["id"] for f in body["checkoutForms"]]


@pytest.fixture
def varied(sim: Sim) -> Sim:
    """~80 orders spread over time with every post-import variety."""
    rng = random.Random(14)
    for _ in range(80):
        sim.clock.advance(rng.uniform(1, 600))
        order_id = sim.state.place_order(
            payment=rng.choice(["ONLINE", "CASH_ON_DELIVERY", "EXTENDED_TERM"]),
            one_fulfillment=rng.random() < 0.3,
            line_items=rng.choice([1, 2, 3]),
        )
        if rng.random() < 0.2:
            continue
        sim.state.pay(order_id)
        roll = rng.random()
        if roll < 0.3:
            sim.state.add_surcharge(order_id)
        elif roll < 0.5:
            sim.state.send_line_items(order_id, 1)
        elif roll < 0.7:
            sim.state.set_fulfillment(order_id, "SENT")
        elif roll < 0.8:
            sim.state.buyer_change(order_id, "address")
    return sim


def _value(form: dict[str, Any], name: str) -> set[str]:
    """What a form shows for a list filter, read straight from the document."""
    if name == "fulfillment.provider.id":
        return {form["fulfillment"]["provider"]["id"]}
    if name == "fulfillment.shipmentSummary.lineItemsSent":
        return {form["fulfillment"]["shipmentSummary"]["lineItemsSent"]}
    if name == "payment.id":
        return {form["payment"]["id"]} if form["payment"] else set()
    if name == "surcharges.id":
        return {s["id"] for s in form["surcharges"]}
    if name == "delivery.method.id":
        return {form["delivery"]["method"]["id"]}
    if name == "status":
        return {form["status"]}
    raise AssertionError(name)


def _bought(form: dict[str, Any]) -> str:
    return str(max(i["boughtAt"] for i in form["lineItems"]))


def _accepts(form: dict[str, Any], params: dict[str, Any]) -> bool:
    for name, wanted in params.items():
        if name in ("sort", "lineItems.boughtAt.gte"):
            continue
        if wanted not in _value(form, name):
            return False
    return _bought(form) >= str(params.get("lineItems.boughtAt.gte", ""))


def test_the_new_list_filters_match_a_brute_force_reference(varied: Sim) -> None:
    sim = varied
    forms = [sim.state.checkout_form(oid) for oid in sim.state.order_ids()]
    some = [f for f in forms if f["surcharges"]][1]
    paid = [f for f in forms if f["payment"]][5]
    cut = datetime.fromtimestamp(sim.clock.wall(), tz=UTC) - timedelta(hours=3)
    cases: list[dict[str, Any]] = [
        {"fulfillment.provider.id": "ALLEGRO"},
        {"fulfillment.provider.id": "SELLER", "status": "READY_FOR_PROCESSING"},
        {"fulfillment.shipmentSummary.lineItemsSent": "SOME"},
        {"fulfillment.shipmentSummary.lineItemsSent": "ALL", "fulfillment.provider.id": "SELLER"},
        {"fulfillment.shipmentSummary.lineItemsSent": "NONE", "sort": "updatedAt"},
        {
            "fulfillment.provider.id": "ALLEGRO",
            "lineItems.boughtAt.gte": cut.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "sort": "lineItems.boughtAt",
        },
        {"payment.id": paid["payment"]["id"]},
        {"payment.id": paid["payment"]["id"], "status": "CANCELLED"},
        {"surcharges.id": some["surcharges"][0]["id"]},
        {"surcharges.id": "29738e61-7f6a-11e8-ac45-09db60ede9d6"},
        {"delivery.method.id": forms[0]["delivery"]["method"]["id"]},
        {"delivery.method.id": forms[0]["delivery"]["method"]["id"], "sort": "-updatedAt"},
    ]
    for params in cases:
        expected = [f for f in forms if _accepts(f, params)]
        sort = params.get("sort", "-lineItems.boughtAt")
        by_updated = "updatedAt" in sort
        expected.sort(
            key=lambda f: f["updatedAt"] if by_updated else _bought(f),
            reverse=sort.startswith("-"),
        )

        got = _list_ids(sim, **params)

        assert got == [f["id"] for f in expected], params
    assert _list_ids(sim, **{"fulfillment.provider.id": "ALLEGRO"})  # not vacuous
    assert len(_list_ids(sim, **{"fulfillment.provider.id": "SELLER"})) < len(forms)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("fulfillment.provider.id", "WAREHOUSE"),
        ("fulfillment.provider.id", "seller"),
        ("fulfillment.shipmentSummary.lineItemsSent", "HALF"),
    ],
)
def test_an_illegal_filter_value_is_a_400_with_allegros_error_body(
    sim: Sim, name: str, value: str
) -> None:
    _paid_order(sim)

    response = sim.get("/order/checkout-forms", **{name: value})

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert set(error) == {"code", "message", "details", "path", "userMessage", "metadata"}
    assert error["path"] == name
    assert value in error["message"]


def test_the_admin_script_mixes_in_post_import_lifecycles_on_request(sim: Sim) -> None:
    bad = _admin(sim, "/script", {"n": 1, "post_import": "yes"})
    response = _admin(sim, "/script", {"n": 120, "seed": 1, "post_import": True})

    assert bad.status_code == 400
    assert response.status_code == 200, response.text
    journal = sim.get("/order/events", limit=1000).json()["events"]
    assert "BUYER_MODIFIED" in {e["type"] for e in journal}
    allegro = _list_ids(sim, **{"fulfillment.provider.id": "ALLEGRO"})
    assert allegro
