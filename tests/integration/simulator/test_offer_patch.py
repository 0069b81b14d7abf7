"""`PATCH /sale/product-offers/{offerId}` over real HTTP: stock and prices of one offer,
stock 0 ending it, re-activation, the content type rule, validation and the scope."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.simulator.conftest import VENDOR, Sim
from tests.integration.simulator.offer_support import READ, add, events, headers_for, offer

pytestmark = pytest.mark.integration


def _patch(
    sim: Sim,
    offer_id: str,
    body: Any,
    *,
    content_type: str = VENDOR,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return sim.http.patch(
        f"/sale/product-offers/{offer_id}",
        content=json.dumps(body).encode(),
        headers={**(headers or sim.headers), "Content-Type": content_type},
    )


def test_stock_and_price_change_at_once_and_answer_the_offer(sim: Sim) -> None:
    offer_id = add(sim, stock=5, price="10.00", marketplaces=["allegro-cz"])

    response = _patch(
        sim,
        offer_id,
        {
            "stock": {"available": 7},
            "sellingMode": {"price": {"amount": "99.90", "currency": "PLN"}},
            "additionalMarketplaces": {
                "allegro-cz": {"sellingMode": {"price": {"amount": "500", "currency": "CZK"}}}
            },
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body == offer(sim, offer_id)
    assert body["stock"]["available"] == 7
    assert body["sellingMode"]["price"]["amount"] == "99.90"
    assert body["additionalMarketplaces"]["allegro-cz"]["sellingMode"]["price"]["amount"] == (
        "500.00"
    )
    assert [e["type"] for e in events(sim)] == [
        "OFFER_STOCK_CHANGED",
        "OFFER_PRICE_CHANGED",
        "OFFER_CHANGED",
        "OFFER_PRICE_CHANGED",
        "OFFER_CHANGED",
    ]


def test_stock_zero_ends_the_offer_and_active_restores_it(sim: Sim) -> None:
    offer_id = add(sim, stock=5)

    ended = _patch(sim, offer_id, {"stock": {"available": 0}}).json()["publication"]
    refused = _patch(sim, offer_id, {"publication": {"status": "ACTIVE"}})
    restored = _patch(
        sim, offer_id, {"stock": {"available": 3}, "publication": {"status": "ACTIVE"}}
    )

    assert (ended["status"], ended["endedBy"]) == ("ENDED", "EMPTY_STOCK")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "publication.status"
    assert restored.status_code == 200
    assert restored.json()["publication"]["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"stock": {"available": -1}}, "stock.available"),
        ({"stock": {"available": "3"}}, "stock.available"),
        ({"sellingMode": {"price": {"amount": "1", "currency": "EUR"}}}, "sellingMode.price"),
        (
            {"sellingMode": {"price": {"amount": "-1", "currency": "PLN"}}},
            "sellingMode.price.amount",
        ),
        ({"publication": {"status": "INACTIVE"}}, "publication.status"),
        (
            {
                "additionalMarketplaces": {
                    "allegro-sk": {"sellingMode": {"price": {"amount": "1", "currency": "EUR"}}}
                }
            },
            "additionalMarketplaces",
        ),
    ],
)
def test_a_bad_patch_is_422_and_changes_nothing(sim: Sim, body: dict[str, Any], path: str) -> None:
    offer_id = add(sim, stock=5, price="10.00")
    before = offer(sim, offer_id)

    response = _patch(sim, offer_id, {"stock": {"available": 9}, **body})

    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == path
    assert offer(sim, offer_id) == before


def test_plain_json_is_415_unknown_is_404_and_reading_scope_is_not_enough(sim: Sim) -> None:
    offer_id = add(sim, stock=5)
    reader = headers_for(sim, [READ])

    plain = _patch(sim, offer_id, {"stock": {"available": 2}}, content_type="application/json")
    unknown = _patch(sim, "12345678901", {"stock": {"available": 2}})
    malformed = _patch(sim, "abc", {"stock": {"available": 2}})
    forbidden = _patch(sim, offer_id, {"stock": {"available": 2}}, headers=reader)

    assert plain.status_code == 415
    assert unknown.status_code == 404
    assert malformed.status_code == 400
    assert forbidden.status_code == 403
    assert offer(sim, offer_id)["stock"]["available"] == 5
