"""The offer event journal over real HTTP: which changes produce which events, the
payload per type, paging with `from`, the `type` filter, duplicates and 24 h retention."""

from __future__ import annotations

import base64

import pytest

from tests.integration.simulator.conftest import Sim, SimFactory
from tests.integration.simulator.offer_support import (
    add,
    events,
    offer,
    price,
    publication,
    put,
    quantity,
    report,
    run,
    seed,
)

pytestmark = pytest.mark.integration

_LONG_TOKEN = 7 * 86_400  # these tests move the clock past a 12-hour access token


def _types(found: list[dict[str, object]]) -> list[object]:
    return [e["type"] for e in found]


def test_seeded_offers_produce_no_events_unless_asked(sim: Sim) -> None:
    seed(sim, count=5)
    announced = sim.http.post("/__sim/offers", json={"offers": [{"sku": "X"}], "emit": True})

    found = events(sim)

    assert _types(found) == ["OFFER_ACTIVATED"]
    assert found[0]["offer"] == {"id": announced.json()["ids"][0], "external": {"id": "X"}}


def test_a_stock_change_by_command_is_offer_stock_changed(sim: Sim) -> None:
    offer_id = add(sim, sku="SKU-1", stock=5)

    run(sim, "quantity", quantity(9, offer_id))

    found = events(sim)
    assert _types(found) == ["OFFER_STOCK_CHANGED"]
    assert found[0]["offer"] == {"id": offer_id, "external": {"id": "SKU-1"}}
    assert set(found[0]) == {"id", "occurredAt", "type", "offer"}


def test_the_same_quantity_again_changes_nothing_and_emits_nothing(sim: Sim) -> None:
    offer_id = add(sim, stock=5)

    result = run(sim, "quantity", quantity(5, offer_id))

    assert result[0]["status"] == "SUCCESS"
    assert events(sim) == []


def test_a_price_change_emits_the_price_event_and_offer_changed(sim: Sim) -> None:
    offer_id = add(sim, sku="SKU-2", price="10.00", marketplaces=["allegro-cz"])

    run(sim, "price", price("300.00", offer_id, currency="CZK", marketplace="allegro-cz"))

    found = events(sim)
    assert _types(found) == ["OFFER_PRICE_CHANGED", "OFFER_CHANGED"]
    assert found[0]["offer"] == {
        "id": offer_id,
        "external": {"id": "SKU-2"},
        "marketplaces": [{"id": "allegro-cz", "changeType": "MANUAL"}],
    }


def test_ending_and_activating_emit_their_events(sim: Sim) -> None:
    offer_id = add(sim, sku="SKU-3", stock=5)

    run(sim, "publication", publication("END", offer_id))
    run(sim, "publication", publication("ACTIVATE", offer_id))

    found = events(sim)
    assert _types(found) == ["OFFER_ENDED", "OFFER_ACTIVATED"]
    assert found[0]["offer"]["publication"] == {"endedBy": "USER"}


def test_a_sale_of_the_last_items_ends_the_offer_with_empty_stock(sim: Sim) -> None:
    offer_id = add(sim, sku="SKU-4", stock=3)

    first = sim.http.post(f"/__sim/offers/{offer_id}/sale", json={"quantity": 1})
    last = sim.http.post(f"/__sim/offers/{offer_id}/sale", json={"quantity": 2})

    body = offer(sim, offer_id)
    assert first.status_code == last.status_code == 200
    assert body["stock"]["available"] == 0
    assert body["publication"] == {
        **body["publication"],
        "status": "ENDED",
        "endedBy": "EMPTY_STOCK",
    }
    assert sim.state.listed_offer(offer_id)["stock"]["sold"] == 3
    found = events(sim)
    assert _types(found) == ["OFFER_STOCK_CHANGED", "OFFER_STOCK_CHANGED", "OFFER_ENDED"]
    assert found[2]["offer"]["publication"] == {"endedBy": "EMPTY_STOCK"}


def test_changes_to_ended_or_draft_offers_emit_nothing(sim: Sim) -> None:
    ended = add(sim, stock=5, status="ENDED")
    draft = add(sim, stock=5, status="INACTIVE")

    run(sim, "quantity", quantity(7, ended, draft))
    run(sim, "price", price("1.00", ended, draft))

    assert offer(sim, ended)["stock"]["available"] == 7
    assert events(sim) == []


def test_sales_center_changes_emit_events(sim: Sim) -> None:
    offer_id = add(sim, stock=5, price="10.00")

    changed = sim.http.post(f"/__sim/offers/{offer_id}/change", json={"stock": 8, "price": "12.00"})
    ended = sim.http.post(
        f"/__sim/offers/{offer_id}/change", json={"action": "END", "ended_by": "ADMIN"}
    )

    assert changed.status_code == ended.status_code == 200
    assert ended.json()["offer"]["publication"]["endedBy"] == "ADMIN"
    found = events(sim)
    assert _types(found) == [
        "OFFER_STOCK_CHANGED",
        "OFFER_PRICE_CHANGED",
        "OFFER_CHANGED",
        "OFFER_ENDED",
    ]
    assert found[3]["offer"]["publication"] == {"endedBy": "ADMIN"}


def test_ids_are_opaque_increasing_and_from_is_exclusive(sim: Sim) -> None:
    offer_id = add(sim, stock=50)
    for _n in range(5):
        sim.clock.advance(1)
        sim.state.sell_offer(offer_id, 1)
    everything = events(sim)

    page1 = events(sim, limit=2)
    page2 = events(sim, limit=2, **{"from": page1[-1]["id"]})
    page3 = events(sim, limit=2, **{"from": page2[-1]["id"]})
    tail = events(sim, **{"from": page3[-1]["id"]})

    assert page1 + page2 + page3 == everything
    assert tail == []
    assert len({e["id"] for e in everything}) == 5
    assert [e["occurredAt"] for e in everything] == sorted(e["occurredAt"] for e in everything)
    assert all(not e["id"].isdigit() for e in everything)  # not the order journal's format


def test_the_type_filter(sim: Sim) -> None:
    offer_id = add(sim, stock=5)
    sim.state.change_offer(offer_id, stock=6, price="99.00")

    only = events(sim, type=["OFFER_PRICE_CHANGED"])
    both = events(sim, type=["OFFER_PRICE_CHANGED", "OFFER_STOCK_CHANGED"])

    assert _types(only) == ["OFFER_PRICE_CHANGED"]
    assert _types(both) == ["OFFER_STOCK_CHANGED", "OFFER_PRICE_CHANGED"]
    assert sim.get("/sale/offer-events", type="BOUGHT").status_code == 400


@pytest.mark.parametrize(
    "from_",
    [
        "!!!",
        "x" * 257,
        base64.urlsafe_b64encode(b"not digits").decode().rstrip("="),
        base64.urlsafe_b64encode(b"99999999999999999").decode().rstrip("="),  # never issued
    ],
)
def test_a_from_that_is_not_an_issued_id_is_400(sim: Sim, from_: str) -> None:
    offer_id = add(sim, stock=5)
    sim.state.sell_offer(offer_id)

    response = sim.get("/sale/offer-events", **{"from": from_})

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "from"


def test_limit_bounds(sim: Sim) -> None:
    assert sim.get("/sale/offer-events", limit=0).status_code == 422
    assert sim.get("/sale/offer-events", limit=1001).status_code == 422
    assert sim.get("/sale/offer-events", limit=1000).status_code == 200


def test_the_default_limit_is_100(sim: Sim) -> None:
    offer_id = add(sim, stock=500)
    for _ in range(120):
        sim.state.sell_offer(offer_id)

    assert len(events(sim)) == 100


def test_a_duplicate_has_the_same_id_and_content_and_from_skips_both(sim: Sim) -> None:
    offer_id = add(sim, stock=5)
    sim.state.sell_offer(offer_id)
    sim.clock.advance(1)
    sim.state.change_offer(offer_id, price="1.23")
    first = events(sim)[0]

    duplicated = sim.http.post(f"/__sim/offer-events/{first['id']}/duplicate")
    found = events(sim)
    after = events(sim, **{"from": first["id"]})

    assert duplicated.status_code == 204
    assert found[0] == found[1] == first
    assert _types(after) == ["OFFER_PRICE_CHANGED", "OFFER_CHANGED"]
    assert sim.http.post("/__sim/offer-events/bm9wZQ/duplicate").status_code == 404


def test_events_older_than_24_hours_are_dropped(make_sim: SimFactory) -> None:
    sim = make_sim(access_token_ttl=_LONG_TOKEN)
    offer_id = add(sim, stock=50)
    sim.state.sell_offer(offer_id)
    old = events(sim)[0]
    sim.clock.advance(12 * 3600)
    sim.state.sell_offer(offer_id)
    sim.clock.advance(12 * 3600 + 1)

    retained = events(sim)

    assert len(retained) == 1
    assert retained[0]["id"] != old["id"]


def test_an_expired_from_returns_the_retained_events_from_the_oldest(make_sim: SimFactory) -> None:
    sim = make_sim(access_token_ttl=_LONG_TOKEN)
    offer_id = add(sim, stock=50)
    sim.state.sell_offer(offer_id)
    cursor = events(sim)[-1]["id"]
    sim.clock.advance(25 * 3600)  # the service was down for 25 hours
    sim.state.sell_offer(offer_id)
    sim.clock.advance(1)
    sim.state.sell_offer(offer_id)

    response = sim.get("/sale/offer-events", **{"from": cursor})

    assert response.status_code == 200
    assert response.json()["offerEvents"] == events(sim)
    assert len(events(sim)) == 2


def test_an_expired_from_with_nothing_retained_is_an_empty_page(make_sim: SimFactory) -> None:
    sim = make_sim(access_token_ttl=_LONG_TOKEN)
    offer_id = add(sim, stock=50)
    sim.state.sell_offer(offer_id)
    cursor = events(sim)[-1]["id"]
    sim.clock.advance(25 * 3600)

    assert events(sim, **{"from": cursor}) == []


def test_retention_is_configurable(make_sim: SimFactory) -> None:
    sim = make_sim(offer_event_retention_hours=1)
    offer_id = add(sim, stock=50)
    sim.state.sell_offer(offer_id)
    sim.clock.advance(3601)

    assert events(sim) == []


def test_a_commands_events_carry_its_completion_time(make_sim: SimFactory) -> None:
    sim = make_sim(offer_command_delay_seconds=2.0)
    offer_id = add(sim, stock=5)
    command_id = "a1d0c6e8-3f4b-4c55-8d2f-6a1b2c3d4e5f"
    put(sim, "quantity", quantity(6, offer_id), command_id)
    sim.clock.advance(60)

    completed = report(sim, "quantity", command_id).json()["completedAt"]
    assert events(sim)[0]["occurredAt"] == completed
