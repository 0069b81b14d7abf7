"""Helpers shared by the simulator's offer tests (test_offer*.py): seeding, command PUTs."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.integration.simulator.conftest import VENDOR, Sim

READ = "allegro:api:sale:offers:read"
WRITE = "allegro:api:sale:offers:write"
PATHS = {
    "quantity": "/sale/offer-quantity-change-commands",
    "price": "/sale/offer-price-change-commands",
    "publication": "/sale/offer-publication-commands",
}


def seed(sim: Sim, count: int = 3, skus: int | None = None, **body: Any) -> list[str]:
    response = sim.http.post(
        "/__sim/offers", json={"count": count, "skus": skus or count, "seed": 7, **body}
    )
    assert response.status_code == 200, response.text
    ids: list[str] = response.json()["ids"]
    return ids


def add(sim: Sim, **offer: Any) -> str:
    """One offer from explicit fields (`id`, `sku`, `stock`, `price`, `status`, ...)."""
    response = sim.http.post("/__sim/offers", json={"offers": [offer]})
    assert response.status_code == 200, response.text
    offer_id: str = response.json()["ids"][0]
    return offer_id


def criteria(*offer_ids: str) -> list[dict[str, Any]]:
    return [{"type": "CONTAINS_OFFERS", "offers": [{"id": i} for i in offer_ids]}]


def quantity(value: int, *offer_ids: str, change_type: str = "FIXED") -> dict[str, Any]:
    return {
        "modification": {"changeType": change_type, "value": value},
        "offerCriteria": criteria(*offer_ids),
    }


def price(
    amount: str, *offer_ids: str, currency: str = "PLN", marketplace: str | None = None
) -> dict[str, Any]:
    modification: dict[str, Any] = {
        "type": "FIXED_PRICE",
        "price": {"amount": amount, "currency": currency},
    }
    if marketplace is not None:
        modification["marketplaceId"] = marketplace
    return {"modification": modification, "offerCriteria": criteria(*offer_ids)}


def publication(action: str, *offer_ids: str) -> dict[str, Any]:
    return {"publication": {"action": action}, "offerCriteria": criteria(*offer_ids)}


def put(
    sim: Sim,
    kind: str,
    body: Any,
    command_id: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return sim.http.put(
        f"{PATHS[kind]}/{command_id or uuid.uuid4()}",
        content=json.dumps(body).encode(),
        headers={**(headers or sim.headers), "Content-Type": VENDOR},
    )


def report(sim: Sim, kind: str, command_id: str) -> httpx.Response:
    return sim.get(f"{PATHS[kind]}/{command_id}")


def tasks(sim: Sim, kind: str, command_id: str, **params: Any) -> list[dict[str, Any]]:
    response = sim.get(f"{PATHS[kind]}/{command_id}/tasks", **params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["tasks"]
    return found


def run(sim: Sim, kind: str, body: Any) -> list[dict[str, Any]]:
    """PUT a command, let its delay pass, and return its tasks."""
    command_id = str(uuid.uuid4())
    assert put(sim, kind, body, command_id).status_code == 201
    sim.clock.advance(sim.state.config.offer_command_delay_seconds)
    return tasks(sim, kind, command_id)


def offer(sim: Sim, offer_id: str) -> dict[str, Any]:
    response = sim.get(f"/sale/product-offers/{offer_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def events(sim: Sim, **params: Any) -> list[dict[str, Any]]:
    response = sim.get("/sale/offer-events", **params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["offerEvents"]
    return found


def headers_for(sim: Sim, scopes: list[str]) -> dict[str, str]:
    issued = sim.http.post("/__sim/tokens", json={"scopes": scopes}).json()["refresh_token"]
    response = sim.refresh(issued)
    assert response.status_code == 200, response.text
    return {"Accept": VENDOR, "Authorization": f"Bearer {response.json()['access_token']}"}
