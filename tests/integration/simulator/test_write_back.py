"""Writing back to orders over real HTTP: the fulfillment PUT's scope, shipments (tracking
numbers) with Allegro's duplicates and validation, carriers, the per-second caps, faults on
writes (including an answer lost after the write took effect) and the Sales Center helpers.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from sandbox.allegro import ShipmentRejected
from tests.integration.simulator.conftest import CLIENT_AUTH, VENDOR, Sim, SimFactory

pytestmark = pytest.mark.integration

READ = "allegro:api:orders:read"
WRITE = "allegro:api:orders:write"
UNKNOWN_ORDER = "29738e61-7f6a-11e8-ac45-09db60ede9d6"


def _paid_order(sim: Sim, line_items: int = 1) -> str:
    order_id = sim.state.place_order(line_items=line_items)
    sim.state.pay(order_id)
    return order_id


def _item_ids(sim: Sim, order_id: str) -> list[str]:
    return [item["id"] for item in sim.state.checkout_form(order_id)["lineItems"]]


def _shipments_path(order_id: str) -> str:
    return f"/order/checkout-forms/{order_id}/shipments"


def _post(
    sim: Sim,
    order_id: str,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    content_type: str = VENDOR,
) -> httpx.Response:
    return sim.http.post(
        _shipments_path(order_id),
        content=json.dumps(body).encode(),
        headers={**(headers or sim.headers), "Content-Type": content_type},
    )


def _shipment(waybill: str = "AD000012345PL", **extra: Any) -> dict[str, Any]:
    return {"carrierId": "POCZTA_POLSKA", "waybill": waybill, **extra}


def _sent(sim: Sim, order_id: str) -> str:
    value: str = sim.state.checkout_form(order_id)["fulfillment"]["shipmentSummary"][
        "lineItemsSent"
    ]
    return value


def _headers_for(sim: Sim, refresh_token: str) -> dict[str, str]:
    response = sim.refresh(refresh_token)
    assert response.status_code == 200, response.text
    return {"Accept": VENDOR, "Authorization": f"Bearer {response.json()['access_token']}"}


# ------------------------------------------------------------------ scopes


def test_writes_need_the_orders_write_scope(sim: Sim) -> None:
    order_id = _paid_order(sim)
    issued = sim.http.post("/__sim/tokens", json={"scopes": [READ]})
    reader = _headers_for(sim, issued.json()["refresh_token"])
    before = sim.state.checkout_form(order_id)

    read = sim.http.get(f"/order/checkout-forms/{order_id}", headers=reader)
    listed = sim.http.get(_shipments_path(order_id), headers=reader)
    put = sim.http.put(
        f"/order/checkout-forms/{order_id}/fulfillment",
        content=b'{"status": "SENT"}',
        headers={**reader, "Content-Type": VENDOR},
    )
    posted = _post(sim, order_id, _shipment(), headers=reader)

    assert read.status_code == 200
    assert listed.status_code == 200
    assert put.status_code == 403
    assert posted.status_code == 403
    assert posted.json()["errors"][0]["code"] == "AccessDenied"
    assert sim.state.checkout_form(order_id) == before
    assert sim.state.shipments(order_id) == []
    # A full token (the default authorisation) may write.
    assert sim.put_fulfillment(order_id, "SENT").status_code == 204


def test_a_token_without_the_read_scope_cannot_read_orders(sim: Sim) -> None:
    order_id = _paid_order(sim)
    issued = sim.http.post("/__sim/tokens", json={"scopes": [WRITE]})
    writer = _headers_for(sim, issued.json()["refresh_token"])

    assert sim.http.get(f"/order/checkout-forms/{order_id}", headers=writer).status_code == 403
    assert _post(sim, order_id, _shipment(), headers=writer).status_code == 201


def test_the_device_flow_scope_parameter_narrows_the_token(sim: Sim) -> None:
    device = sim.http.post(
        "/auth/oauth/device",
        data={"client_id": "sim-client", "scope": f"{READ} allegro:api:not-declared"},
        auth=CLIENT_AUTH,
    ).json()
    sim.state.approve_device(device["user_code"])
    granted = sim.token_request(
        grant_type="urn:ietf:params:oauth:grant-type:device_code",
        device_code=device["device_code"],
    ).json()
    order_id = _paid_order(sim)
    headers = {"Accept": VENDOR, "Authorization": f"Bearer {granted['access_token']}"}

    assert granted["scope"] == READ  # capped at what the application declares
    assert _post(sim, order_id, _shipment(), headers=headers).status_code == 403
    refreshed = sim.refresh(granted["refresh_token"]).json()
    assert refreshed["scope"] == READ  # a refresh keeps the authorisation's scopes


# ------------------------------------------------------------------ shipments


def test_a_posted_shipment_is_created_listed_and_moves_line_items_sent(sim: Sim) -> None:
    order_id = _paid_order(sim, line_items=2)
    before = sim.state.checkout_form(order_id)
    events = len(sim.state.journal())
    sim.clock.advance(5)

    response = _post(sim, order_id, _shipment())
    listed = sim.get(_shipments_path(order_id))

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == VENDOR
    created = response.json()
    assert set(created) == {"id", "waybill", "carrierId", "carrierName", "lineItems", "createdAt"}
    assert created["waybill"] == "AD000012345PL"
    assert created["carrierId"] == "POCZTA_POLSKA"
    assert created["carrierName"] is None  # only used for OTHER
    assert created["lineItems"] == [{"id": i} for i in _item_ids(sim, order_id)]  # all
    assert created["createdAt"].endswith("Z")
    assert base64.b64decode(created["id"], validate=True)  # opaque, base64-like
    assert listed.status_code == 200
    assert listed.json() == {"shipments": [created]}
    after = sim.state.checkout_form(order_id)
    assert after["fulfillment"]["shipmentSummary"]["lineItemsSent"] == "ALL"
    assert after["fulfillment"]["status"] == before["fulfillment"]["status"]
    assert after["revision"] != before["revision"]
    assert after["updatedAt"] == before["updatedAt"]
    assert len(sim.state.journal()) == events  # no event for a tracking number


def test_two_identical_posts_create_two_shipments(sim: Sim) -> None:
    order_id = _paid_order(sim)

    first = _post(sim, order_id, _shipment())
    second = _post(sim, order_id, _shipment())

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    listed = sim.get(_shipments_path(order_id)).json()["shipments"]
    assert [s["waybill"] for s in listed] == ["AD000012345PL", "AD000012345PL"]
    assert sim.state.shipment_posts(order_id) == 2


def test_line_items_sent_follows_the_lines_the_shipments_cover(sim: Sim) -> None:
    order_id = _paid_order(sim, line_items=3)
    first, second, third = _item_ids(sim, order_id)

    assert _post(sim, order_id, _shipment("W1", lineItems=[{"id": first}])).status_code == 201
    partly = sim.state.checkout_form(order_id)
    assert _post(sim, order_id, _shipment("W2", lineItems=[{"id": first}])).status_code == 201
    again = sim.state.checkout_form(order_id)
    body = _shipment("W3", lineItems=[{"id": second}, {"id": third}])
    assert _post(sim, order_id, body).status_code == 201

    assert partly["fulfillment"]["shipmentSummary"]["lineItemsSent"] == "SOME"
    # The same line covered again changes nothing on the form, so not its revision.
    assert again["revision"] == partly["revision"]
    assert _sent(sim, order_id) == "ALL"
    assert sim.state.revision_of(order_id) != partly["revision"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"carrierId": "PONY_EXPRESS", "waybill": "X1"}, "carrierId"),
        ({"waybill": "X1"}, "carrierId"),
        (_shipment(""), "waybill"),
        (_shipment("A" * 65), "waybill"),
        (_shipment("AD 0000 1234"), "waybill"),
        (_shipment("AD00ą"), "waybill"),
        ({"carrierId": "INPOST", "waybill": 123}, "waybill"),
        ({"carrierId": "OTHER", "waybill": "X1", "carrierName": "N" * 31}, "carrierName"),
        (_shipment(lineItems={"id": "x"}), "lineItems"),
        (_shipment(lineItems=["x"]), "lineItems"),
    ],
)
def test_an_invalid_shipment_is_a_400_and_creates_nothing(
    sim: Sim, body: dict[str, Any], path: str
) -> None:
    order_id = _paid_order(sim)
    revision = sim.state.revision_of(order_id)

    response = _post(sim, order_id, body)

    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["path"] == path
    assert sim.state.shipments(order_id) == []
    assert sim.state.revision_of(order_id) == revision


def test_the_longest_waybill_and_carrier_name_are_accepted(sim: Sim) -> None:
    order_id = _paid_order(sim)
    body = {"carrierId": "OTHER", "waybill": "A-1" * 21 + "Z", "carrierName": "N" * 30}

    response = _post(sim, order_id, body)

    assert response.status_code == 201, response.text
    assert response.json()["carrierName"] == "N" * 30


def test_a_line_item_of_another_order_is_a_422(sim: Sim) -> None:
    order_id = _paid_order(sim)
    other = _paid_order(sim)

    response = _post(sim, order_id, _shipment(lineItems=[{"id": _item_ids(sim, other)[0]}]))

    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "lineItems"
    assert sim.state.shipments(order_id) == []


def test_shipments_of_an_unknown_order_are_a_404(sim: Sim) -> None:
    posted = _post(sim, UNKNOWN_ORDER, _shipment())
    listed = sim.get(_shipments_path(UNKNOWN_ORDER))

    assert posted.status_code == 404
    assert listed.status_code == 404
    assert listed.json()["errors"][0]["code"] == "CheckoutFormNotFoundException"


def test_a_shipment_needs_the_vendor_content_type(sim: Sim) -> None:
    order_id = _paid_order(sim)

    response = _post(sim, order_id, _shipment(), content_type="application/json")

    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "NotSupportedException"
    assert sim.state.shipments(order_id) == []


def test_a_waybill_on_too_many_orders_is_a_409(make_sim: SimFactory) -> None:
    sim = make_sim(waybill_order_limit=2)
    first, second, third = (_paid_order(sim) for _ in range(3))

    statuses = [_post(sim, oid, _shipment("SHARED1")).status_code for oid in (first, second)]
    refused = _post(sim, third, _shipment("SHARED1"))
    same_order_again = _post(sim, first, _shipment("SHARED1"))

    assert statuses == [201, 201]
    assert refused.status_code == 409
    assert "too many orders" in refused.json()["errors"][0]["message"]
    assert sim.state.shipments(third) == []
    assert same_order_again.status_code == 201  # not a new order for this waybill


def test_the_default_waybill_limit_is_ten_orders(sim: Sim) -> None:
    orders = [_paid_order(sim) for _ in range(11)]

    statuses = [_post(sim, oid, _shipment("SHARED2")).status_code for oid in orders]

    assert statuses == [201] * 10 + [409]


# ------------------------------------------------------------------ carriers


def test_carriers_are_listed_with_cache_headers(sim: Sim) -> None:
    response = sim.get("/order/carriers")

    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    carriers = response.json()["carriers"]
    ids = [c["id"] for c in carriers]
    assert {"ALLEGRO", "INPOST", "DPD", "DHL", "UPS", "POCZTA_POLSKA", "ORLEN"} <= set(ids)
    assert {"YUN_EXPRESS", "OTHER"} <= set(ids)
    assert {"id": "OTHER"} in carriers  # OTHER has no name
    assert all(c.get("name") for c in carriers if c["id"] != "OTHER")


def test_an_application_token_reads_carriers_but_no_orders(sim: Sim) -> None:
    order_id = _paid_order(sim)
    app_token = sim.token_request(grant_type="client_credentials").json()["access_token"]
    headers = {"Accept": VENDOR, "Authorization": f"Bearer {app_token}"}

    assert sim.http.get("/order/carriers", headers=headers).status_code == 200
    assert sim.http.get(_shipments_path(order_id), headers=headers).status_code == 403
    assert _post(sim, order_id, _shipment(), headers=headers).status_code == 403


# ------------------------------------------------------------------ per-second caps


def test_shipments_have_their_own_per_second_cap(make_sim: SimFactory) -> None:
    sim = make_sim(shipments_per_second=3)
    order_id = _paid_order(sim)
    sim.authorize()

    within = [
        sim.get(_shipments_path(order_id)).status_code,
        _post(sim, order_id, _shipment()).status_code,
        sim.get(_shipments_path(order_id)).status_code,
    ]
    over_get = sim.get(_shipments_path(order_id))
    over_post = _post(sim, order_id, _shipment())
    other_resources = [sim.get("/order/events").status_code, sim.get("/order/carriers").status_code]
    sim.clock.advance(1.0)
    next_second = sim.get(_shipments_path(order_id)).status_code

    assert within == [200, 201, 200]
    assert (over_get.status_code, over_post.status_code) == (429, 429)
    assert "errors" in over_get.json()
    assert "retry-after" not in over_get.headers  # Allegro documents none on a 429
    assert other_resources == [200, 200]  # a cap of their own, not a block of the client
    assert next_second == 200
    assert sim.state.shipment_posts(order_id) == 1  # the refused POST never reached it


def test_carriers_have_their_own_per_second_cap(make_sim: SimFactory) -> None:
    sim = make_sim(carriers_per_second=2)
    sim.authorize()
    sim.state.faults.retry_after_on_429 = 1

    statuses = [sim.get("/order/carriers").status_code for _ in range(3)]
    refused = sim.get("/order/carriers")

    assert statuses == [200, 200, 429]
    assert refused.headers["retry-after"] == "1"  # only when switched on, as for any 429


def test_the_per_second_cap_also_counts_against_the_minute_limit(make_sim: SimFactory) -> None:
    sim = make_sim(shipments_per_second=1, rate_limit_per_minute=3)
    order_id = _paid_order(sim)
    sim.authorize()

    statuses = [sim.get(_shipments_path(order_id)).status_code for _ in range(3)]
    blocked = sim.get("/order/events").status_code

    assert statuses == [200, 429, 429]
    assert blocked == 429  # all three were requests to the client id's minute budget


# ------------------------------------------------------------------ faults


def test_injected_faults_reach_the_write_endpoints(sim: Sim) -> None:
    order_id = _paid_order(sim)
    sim.authorize()
    sim.state.faults.next_errors = [503, 500]

    posted = _post(sim, order_id, _shipment())
    put = sim.put_fulfillment(order_id, "SENT")

    assert (posted.status_code, put.status_code) == (503, 500)
    assert sim.state.shipments(order_id) == []
    assert sim.state.shipment_posts(order_id) == 0
    assert sim.state.checkout_form(order_id)["fulfillment"]["status"] == "NEW"


def test_a_hanging_shipments_request_times_the_client_out(sim: Sim) -> None:
    order_id = _paid_order(sim)
    sim.authorize()
    sim.state.faults.update({"timeout_rate": 1.0, "hang_seconds": 30})

    with pytest.raises(httpx.ReadTimeout):
        sim.http.get(_shipments_path(order_id), headers=sim.headers, timeout=0.3)
    sim.state.faults.timeout_rate = 0.0

    assert sim.state.shipments(order_id) == []


def test_a_lost_answer_to_a_post_still_creates_the_shipment(sim: Sim) -> None:
    order_id = _paid_order(sim)
    sim.authorize()
    sim.state.faults.update({"lose_next_writes": 1, "lost_write_mode": "error"})

    invalid = _post(sim, order_id, _shipment(""))  # a refused write keeps the fault queued
    lost = _post(sim, order_id, _shipment())
    retried = _post(sim, order_id, _shipment())

    assert invalid.status_code == 400
    assert lost.status_code == 500
    assert "errors" in lost.json()
    assert retried.status_code == 201
    # The lost one was created: the blind retry made a duplicate, as it would on Allegro.
    assert len(sim.state.shipments(order_id)) == 2
    assert sim.state.shipment_posts(order_id) == 3
    assert [e.status for e in sim.state.request_log][-2:] == [500, 201]


def test_a_dropped_connection_after_the_post_still_creates_the_shipment(sim: Sim) -> None:
    order_id = _paid_order(sim)
    sim.authorize()
    sim.state.faults.update({"lose_next_writes": 1, "lost_write_mode": "drop"})

    with pytest.raises(httpx.RemoteProtocolError):
        _post(sim, order_id, _shipment())

    assert len(sim.state.shipments(order_id)) == 1
    assert sim.state.request_log[-1].status == 0  # no answer reached the client


def test_an_unanswered_post_times_out_and_still_creates_the_shipment(sim: Sim) -> None:
    order_id = _paid_order(sim)
    sim.authorize()
    sim.state.faults.update(
        {"lose_next_writes": 1, "lost_write_mode": "timeout", "hang_seconds": 30}
    )

    with pytest.raises(httpx.ReadTimeout):
        sim.http.post(
            _shipments_path(order_id),
            content=json.dumps(_shipment()).encode(),
            headers={**sim.headers, "Content-Type": VENDOR},
            timeout=0.3,
        )

    assert len(sim.state.shipments(order_id)) == 1


@pytest.mark.parametrize("mode", ["error", "drop"])
def test_a_lost_answer_to_a_fulfillment_put_still_changes_the_status(sim: Sim, mode: str) -> None:
    order_id = _paid_order(sim)
    revision = sim.state.revision_of(order_id)
    sim.authorize()
    sim.state.faults.update({"lose_next_writes": 1, "lost_write_mode": mode})

    try:
        status = sim.put_fulfillment(order_id, "SENT", revision).status_code
    except httpx.RemoteProtocolError:
        status = 0
    retried = sim.put_fulfillment(order_id, "SENT", revision)

    assert status == (500 if mode == "error" else 0)
    assert sim.state.checkout_form(order_id)["fulfillment"]["status"] == "SENT"
    assert sim.state.journal()[-1]["type"] == "FULFILLMENT_STATUS_CHANGED"
    assert retried.status_code == 409  # the write took effect: the revision moved on


def test_lost_writes_can_be_set_over_http_and_are_validated(sim: Sim) -> None:
    accepted = sim.http.post("/__sim/faults", json={"lost_write_rate": 1.0})
    bad_mode = sim.http.post("/__sim/faults", json={"lost_write_mode": "explode"})
    bad_count = sim.http.post("/__sim/faults", json={"lose_next_writes": -1})
    order_id = _paid_order(sim)

    lost = [_post(sim, order_id, _shipment()).status_code for _ in range(2)]

    assert accepted.status_code == 200
    assert accepted.json()["lost_write_rate"] == 1.0
    assert (bad_mode.status_code, bad_count.status_code) == (400, 400)
    assert lost == [500, 500]
    assert len(sim.state.shipments(order_id)) == 2
    assert sim.get(_shipments_path(order_id)).status_code == 200  # reads are never lost


# ------------------------------------------------------------------ Sales Center helpers


def test_a_shipment_added_in_sales_center_is_listed_but_not_counted_as_a_post(sim: Sim) -> None:
    order_id = _paid_order(sim, line_items=2)
    first = _item_ids(sim, order_id)[0]

    over_http = sim.http.post(
        f"/__sim/orders/{order_id}/shipments",
        json={"carrierId": "INPOST", "waybill": "620000000000000000000001"},
    )
    in_process = sim.state.add_shipment(order_id, "DPD", "0000123456789U", line_item_ids=[first])
    refused = sim.http.post(
        f"/__sim/orders/{order_id}/shipments", json={"carrierId": "NOPE", "waybill": "X"}
    )
    admin_view = sim.http.get(f"/__sim/orders/{order_id}/shipments").json()

    assert over_http.status_code == 201, over_http.text
    assert refused.status_code == 400
    with pytest.raises(ShipmentRejected) as rejected:
        sim.state.add_shipment(order_id, "DPD", "")
    assert rejected.value.status == 400
    listed = sim.get(_shipments_path(order_id)).json()["shipments"]
    assert listed == [over_http.json(), in_process]
    assert admin_view == {"shipments": listed, "posts": 0}
    assert sim.http.get("/__sim/shipment-posts").json() == {"posts": {}}
    assert _sent(sim, order_id) == "ALL"


def test_shipment_posts_are_counted_per_order_whatever_the_outcome(sim: Sim) -> None:
    first, second = _paid_order(sim), _paid_order(sim)

    _post(sim, first, _shipment())
    _post(sim, first, _shipment(""))
    _post(sim, second, _shipment())

    assert sim.http.get("/__sim/shipment-posts").json() == {"posts": {first: 2, second: 1}}
    assert sim.state.shipment_post_counts() == {first: 2, second: 1}


def test_sales_center_status_changes_emit_only_on_a_real_change(sim: Sim) -> None:
    order_id = _paid_order(sim)
    events = len(sim.state.journal())

    changed = sim.http.post(f"/__sim/orders/{order_id}/fulfillment", json={"status": "SENT"})
    same = sim.http.post(f"/__sim/orders/{order_id}/fulfillment", json={"status": "SENT"})
    put_same = sim.put_fulfillment(order_id, "SENT")
    refused = sim.http.post(f"/__sim/orders/{order_id}/fulfillment", json={"status": "RETURNED"})
    unknown = sim.http.post(f"/__sim/orders/{UNKNOWN_ORDER}/fulfillment", json={"status": "SENT"})

    assert changed.status_code == 200
    # Setting the status it already has is a success that changes nothing (the
    # simulator's choice): same revision, no FULFILLMENT_STATUS_CHANGED.
    assert same.json()["revision"] == changed.json()["revision"]
    assert put_same.status_code == 204
    assert sim.state.revision_of(order_id) == changed.json()["revision"]
    types = [e["type"] for e in sim.state.journal()[events:]]
    assert types == ["FULFILLMENT_STATUS_CHANGED"]
    assert (refused.status_code, unknown.status_code) == (400, 404)
    form = sim.state.checkout_form(order_id)
    assert form["fulfillment"] == {
        "status": "SENT",
        "shipmentSummary": {"lineItemsSent": "ALL"},  # SENT keeps its lineItemsSent rule
        "provider": {"id": "SELLER"},
    }
