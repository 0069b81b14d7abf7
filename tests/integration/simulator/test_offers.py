"""The simulator's offers over real HTTP: the offer list with its filters and paging, one
offer in full, scopes, and the fault plan reaching the offer resources."""

from __future__ import annotations

import pytest

from tests.integration.simulator.conftest import Sim
from tests.integration.simulator.offer_support import (
    READ,
    WRITE,
    add,
    headers_for,
    offer,
    price,
    put,
    quantity,
    seed,
)

pytestmark = pytest.mark.integration


def _listed(sim: Sim, **params: object) -> dict[str, object]:
    response = sim.get("/sale/offers", **params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _ids(body: dict[str, object]) -> list[str]:
    offers = body["offers"]
    assert isinstance(offers, list)
    return [o["id"] for o in offers]


# ------------------------------------------------------------------ the list


def test_several_offers_share_a_sku_and_external_id_finds_them_all(sim: Sim) -> None:
    ids = seed(sim, count=50, skus=20)
    skus = [sim.state.offer(i)["external"]["id"] for i in ids]
    shared = max(set(skus), key=skus.count)

    found = _listed(sim, **{"external.id": [shared], "limit": 1000})

    assert skus.count(shared) > 1
    assert sorted(_ids(found)) == sorted(i for i, s in zip(ids, skus, strict=True) if s == shared)
    assert found["count"] == found["totalCount"] == skus.count(shared)


def test_the_listing_has_the_shape_of_allegros_example(sim: Sim) -> None:
    offer_id = add(
        sim, sku="KON-10L-GR", stock=41, price="39.99", marketplaces={"allegro-cz": "229.00"}
    )

    listed = _listed(sim)["offers"]

    assert isinstance(listed, list)
    item = listed[0]
    assert item["id"] == offer_id
    assert item["sellingMode"] == {
        "format": "BUY_NOW",
        "price": {"amount": "39.99", "currency": "PLN"},
        "priceAutomation": None,
    }
    assert item["stock"] == {"available": 41, "sold": 0}
    assert item["external"] == {"id": "KON-10L-GR"}
    assert item["publication"]["status"] == "ACTIVE"
    assert "endedBy" not in item["publication"]
    assert item["publication"]["marketplaces"] == {
        "base": {"id": "allegro-pl"},
        "additional": [{"id": "allegro-cz"}],
    }
    assert item["additionalMarketplaces"]["allegro-cz"]["sellingMode"]["price"] == {
        "amount": "229.00",
        "currency": "CZK",
    }


def test_default_limit_is_20_and_offset_pages_without_overlap(sim: Sim) -> None:
    ids = seed(sim, count=45, skus=10)

    first = _listed(sim)
    pages = [_ids(_listed(sim, limit=20, offset=offset)) for offset in (0, 20, 40)]

    assert first["count"] == 20
    assert first["totalCount"] == 45
    assert pages[0] == _ids(first)
    assert [len(p) for p in pages] == [20, 20, 5]
    listed = [offer_id for page in pages for offer_id in page]
    assert listed == list(reversed(ids))  # every offer once, newest first


def test_filters_by_offer_id_and_publication_status(sim: Sim) -> None:
    active = add(sim, sku="A")
    ended = add(sim, sku="B", status="ENDED")
    draft = add(sim, sku="C", status="INACTIVE")

    by_id = _ids(_listed(sim, **{"offer.id": [active, draft]}))
    by_status = _ids(_listed(sim, **{"publication.status": ["ENDED", "INACTIVE"]}))

    assert sorted(by_id) == sorted([active, draft])
    assert sorted(by_status) == sorted([ended, draft])


def test_sort_by_stock_and_price_with_a_stable_tie_break(sim: Sim) -> None:
    low = add(sim, stock=1, price="30.00")
    high = add(sim, stock=9, price="10.00")
    tie = add(sim, stock=9, price="20.00")

    by_stock = _ids(_listed(sim, sort="-stock.available"))
    by_price = _ids(_listed(sim, sort="sellingMode.price.amount"))

    assert by_stock == [tie, high, low]  # equal stock: newest first
    assert by_price == [high, tie, low]
    assert sim.get("/sale/offers", sort="name").status_code == 400


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"external.id": [f"SKU-{n}" for n in range(101)]}, 400),
        ({"external.id": ["x" * 101]}, 400),
        ({"publication.status": ["SOLD"]}, 400),
        ({"limit": 1001}, 422),
        ({"limit": 0}, 422),
        ({"offset": -1}, 422),
    ],
)
def test_bad_list_parameters_get_allegros_error_body(
    sim: Sim, params: dict[str, object], status: int
) -> None:
    response = sim.get("/sale/offers", **params)

    assert response.status_code == status
    assert response.json()["errors"][0]["code"]


def test_a_hundred_external_ids_of_a_hundred_characters_are_accepted(sim: Sim) -> None:
    response = sim.get("/sale/offers", **{"external.id": [f"{n:0100d}" for n in range(100)]})

    assert response.status_code == 200
    assert response.json()["offers"] == []


# ------------------------------------------------------------------ one offer


def test_a_full_offer_carries_ended_by_external_id_and_marketplace_prices(sim: Sim) -> None:
    offer_id = add(sim, sku="SKU-1", stock=3, price="10.00", marketplaces={"allegro-sk": "2.50"})
    sim.state.change_offer(offer_id, action="END")

    body = offer(sim, offer_id)

    assert body["id"] == offer_id
    assert body["external"] == {"id": "SKU-1"}
    assert body["stock"]["available"] == 3
    assert body["sellingMode"]["price"] == {"amount": "10.00", "currency": "PLN"}
    assert body["publication"]["status"] == "ENDED"
    assert body["publication"]["endedBy"] == "USER"
    assert body["additionalMarketplaces"] == {
        "allegro-sk": {
            "sellingMode": {"price": {"amount": "2.50", "currency": "EUR"}},
            "publication": {"state": "APPROVED", "refusalReasons": []},
        }
    }
    assert body["createdAt"].endswith("Z")
    assert body["updatedAt"].endswith("Z")


def test_an_offer_without_sku_has_null_external(sim: Sim) -> None:
    offer_id = add(sim)

    assert offer(sim, offer_id)["external"] is None


def test_updated_at_moves_on_every_change(sim: Sim) -> None:
    offer_id = add(sim, stock=5)
    before = offer(sim, offer_id)["updatedAt"]
    sim.clock.advance(2)
    sim.state.change_offer(offer_id, stock=6)

    assert offer(sim, offer_id)["updatedAt"] > before


def test_an_unknown_offer_is_404_and_a_malformed_id_400(sim: Sim) -> None:
    unknown = sim.get("/sale/product-offers/12345678901")
    malformed = sim.get("/sale/product-offers/not-an-id")

    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["code"] == "NOT_FOUND"
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["path"] == "offerId"


# ------------------------------------------------------------------ scopes and faults


def test_reads_need_the_offers_read_scope(sim: Sim) -> None:
    offer_id = add(sim)
    orders_only = headers_for(sim, ["allegro:api:orders:read"])

    for path in ("/sale/offers", f"/sale/product-offers/{offer_id}", "/sale/offer-events"):
        assert sim.http.get(path, headers=orders_only).status_code == 403
    reader = headers_for(sim, [READ])
    assert sim.http.get("/sale/offers", headers=reader).status_code == 200


def test_commands_and_their_reports_need_the_offers_write_scope(sim: Sim) -> None:
    offer_id = add(sim)
    reader = headers_for(sim, [READ])
    command_id = "b9b8ef16-2709-411e-ac94-2be7e3ba25e7"

    refused = put(sim, "quantity", quantity(3, offer_id), command_id, headers=reader)
    report = sim.http.get(f"/sale/offer-quantity-change-commands/{command_id}", headers=reader)
    writer = headers_for(sim, [READ, WRITE])
    accepted = put(sim, "price", price("9.99", offer_id), headers=writer)

    assert refused.status_code == 403
    assert report.status_code == 403
    assert accepted.status_code == 201
    assert [p["kind"] for p in sim.state.offer_command_puts()] == ["price"]


def test_the_default_token_carries_both_offer_scopes(sim: Sim) -> None:
    offer_id = add(sim)

    assert sim.get("/sale/offers").status_code == 200
    assert put(sim, "quantity", quantity(2, offer_id)).status_code == 201


def test_the_fault_plan_reaches_the_offer_resources(sim: Sim) -> None:
    offer_id = add(sim)
    sim.state.faults.update({"next_errors": [503, 500, 504, 429]})

    statuses = [
        sim.get("/sale/offers").status_code,
        sim.get(f"/sale/product-offers/{offer_id}").status_code,
        sim.get("/sale/offer-events").status_code,
        put(sim, "quantity", quantity(2, offer_id)).status_code,
    ]

    assert statuses == [503, 500, 504, 429]
    assert sim.state.offer_command_puts() == []  # the edge answered; the resource never ran
    assert sim.get("/sale/offers").status_code == 200


def test_a_command_put_whose_answer_is_lost_still_registers(sim: Sim) -> None:
    offer_id = add(sim, stock=5)
    sim.state.faults.update({"lose_next_writes": 1})
    command_id = "0f8fad5b-d9cb-469f-a165-70867728950e"

    lost = put(sim, "quantity", quantity(8, offer_id), command_id)
    again = put(sim, "quantity", quantity(8, offer_id), command_id)

    assert lost.status_code == 500
    assert again.status_code == 409
    sim.clock.advance(1)
    assert offer(sim, offer_id)["stock"]["available"] == 8
