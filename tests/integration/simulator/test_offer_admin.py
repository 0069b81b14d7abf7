"""The offer admin routes (`/__sim/offers*`, `/__sim/offer-*`, `/__sim/clock`) and the
SimulatorState methods behind them."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from sandbox.allegro.state import OfferNotFound, OfferRejected
from tests.integration.simulator.conftest import Sim
from tests.integration.simulator.offer_support import add, seed

pytestmark = pytest.mark.integration


def test_seeding_1500_offers_over_600_skus_with_marketplaces(sim: Sim) -> None:
    ids = seed(sim, count=1500, skus=600, marketplaces=["allegro-cz", "allegro-sk"])

    skus = {sim.state.offer(i)["external"]["id"] for i in ids}
    sample = sim.state.offer(ids[0])
    assert len(ids) == len(set(ids)) == 1500
    assert len(skus) == 600
    assert all(i.isdigit() and len(i) == 11 for i in ids)
    assert set(sample["additionalMarketplaces"]) == {"allegro-cz", "allegro-sk"}
    assert sample["additionalMarketplaces"]["allegro-sk"]["sellingMode"]["price"]["currency"] == (
        "EUR"
    )
    assert sim.http.get("/__sim/stats").json()["offers"] == 1500


def test_seeding_is_reproducible(sim: Sim) -> None:
    first = seed(sim, count=5, skus=2, seed=3)
    other = SimulatorState(SimulatorConfig())

    assert other.seed_offers(5, 2, seed=3) == first


@pytest.mark.parametrize(
    "body",
    [
        {"count": -1},
        {"count": 5, "skus": 6},
        {"count": 5, "skus": 0},
        {"count": 5, "marketplaces": ["allegro-pl"]},
        {"count": 5, "marketplaces": ["allegro-xx"]},
        {"offers": [{"stock": -1}]},
        {"offers": [{"price": "1.234"}]},
        {"offers": [{"sku": "x" * 101}]},
        {"offers": [{"status": "SOLD"}]},
        {"offers": [{"id": "abc"}]},
        {"offers": "many"},
    ],
)
def test_bad_seed_bodies_are_400(sim: Sim, body: dict[str, object]) -> None:
    response = sim.http.post("/__sim/offers", json=body)

    assert response.status_code == 400
    assert response.json()["error"]


def test_an_explicit_id_is_kept_and_a_second_one_refused(sim: Sim) -> None:
    offer_id = add(sim, id="17034458812", sku="KON-10L-GR")

    again = sim.http.post("/__sim/offers", json={"offers": [{"id": "17034458812"}]})

    assert offer_id == "17034458812"
    assert again.status_code == 400


def test_reading_an_offer_for_assertions(sim: Sim) -> None:
    offer_id = add(sim, stock=4)
    sim.state.sell_offer(offer_id, 1)

    body = sim.http.get(f"/__sim/offers/{offer_id}").json()

    assert body["offer"]["stock"]["available"] == 3
    assert body["listing"]["stock"] == {"available": 3, "sold": 1}
    assert sim.http.get("/__sim/offers/1").status_code == 404


def test_admin_actions_answer_404_400_and_409(sim: Sim) -> None:
    offer_id = add(sim, stock=1, status="INACTIVE")

    unknown = sim.http.post("/__sim/offers/1/sale", json={})
    bad = sim.http.post(f"/__sim/offers/{offer_id}/change", json={"stock": "many"})
    bad_action = sim.http.post(f"/__sim/offers/{offer_id}/change", json={"action": "PAUSE"})
    refused = sim.http.post(f"/__sim/offers/{offer_id}/sale", json={"quantity": 1})

    assert unknown.status_code == 404
    assert bad.status_code == bad_action.status_code == 400
    assert refused.status_code == 409
    assert refused.json()["code"] == "OFFER_NOT_ACTIVE"


def test_state_methods_raise_for_unknown_offers_and_refusals(sim: Sim) -> None:
    offer_id = add(sim, stock=2)

    with pytest.raises(OfferNotFound):
        sim.state.offer("1")
    with pytest.raises(OfferRejected):
        sim.state.sell_offer(offer_id, 3)
    assert sim.state.offer_ids() == [offer_id]


def test_stock_zero_from_sales_center_ends_with_empty_stock(sim: Sim) -> None:
    offer_id = add(sim, stock=2)

    sim.http.post(f"/__sim/offers/{offer_id}/change", json={"stock": 0})

    publication = sim.state.offer(offer_id)["publication"]
    assert (publication["status"], publication["endedBy"]) == ("ENDED", "EMPTY_STOCK")


def test_the_journal_and_command_puts_are_readable(sim: Sim) -> None:
    offer_id = add(sim, stock=2)
    sim.state.sell_offer(offer_id)

    journal = sim.http.get("/__sim/offer-events").json()["offerEvents"]

    assert [e["type"] for e in journal] == ["OFFER_STOCK_CHANGED"]
    assert journal == sim.state.offer_journal()
    assert sim.http.get("/__sim/offer-commands").json() == {"puts": []}


def test_the_clock_route_moves_a_manual_clock(sim: Sim) -> None:
    before = sim.http.get("/__sim/clock").json()

    moved = sim.http.post("/__sim/clock", json={"advance_seconds": 90_000})

    assert moved.status_code == 200
    assert moved.json()["wall"] == before["wall"] + 90_000
    assert sim.clock.wall() == before["wall"] + 90_000
    assert moved.json()["now"].endswith("Z")
    assert sim.http.post("/__sim/clock", json={"advance_seconds": -1}).status_code == 400
    assert sim.http.post("/__sim/clock", json={"advance_seconds": "1"}).status_code == 400


def test_a_served_simulator_on_the_real_clock_can_be_moved_forward() -> None:
    state = SimulatorState(SimulatorConfig())
    with SimulatorServer(state) as server:
        before = time.time()
        moved = httpx.post(server.url + "/__sim/clock", json={"advance_seconds": 25 * 3600})

    assert moved.status_code == 200
    assert moved.json()["wall"] >= before + 25 * 3600
    assert state.clock.wall() >= before + 25 * 3600


def test_an_explicit_list_is_added_all_or_nothing(sim: Sim) -> None:
    response = sim.http.post(
        "/__sim/offers", json={"offers": [{"sku": "A"}, {"id": "123"}, {"id": "123"}]}
    )
    bad_stock = sim.http.post("/__sim/offers", json={"offers": [{"sku": "A"}, {"stock": -1}]})

    assert response.status_code == bad_stock.status_code == 400
    assert sim.state.offer_ids() == []


def test_a_refused_sales_center_change_changes_nothing(sim: Sim) -> None:
    offer_id = add(sim, stock=2, price="10.00")
    before = sim.state.offer(offer_id)

    not_on_marketplace = sim.http.post(
        f"/__sim/offers/{offer_id}/change",
        json={"stock": 7, "price": "5.00", "marketplace": "allegro-cz"},
    )
    activate_empty = sim.http.post(
        f"/__sim/offers/{offer_id}/change", json={"stock": 0, "action": "ACTIVATE"}
    )
    negative = sim.http.post(f"/__sim/offers/{offer_id}/change", json={"stock": -1})

    assert not_on_marketplace.status_code == activate_empty.status_code == 409
    assert negative.status_code == 400
    assert sim.state.offer(offer_id) == before
    assert sim.state.offer_journal() == []
