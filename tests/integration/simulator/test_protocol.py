"""Headers, media types and authentication every REST call goes through."""

from __future__ import annotations

import pytest

from tests.integration.simulator.conftest import VENDOR, Sim, SimFactory

pytestmark = pytest.mark.integration


def test_a_call_without_the_vendor_accept_header_is_not_acceptable(sim: Sim) -> None:
    headers = {"Authorization": sim.headers["Authorization"], "Accept": "application/json"}

    response = sim.http.get("/order/events", headers=headers)

    assert response.status_code == 406
    assert response.json()["errors"][0]["code"] == "NotAcceptableException"


def test_a_call_without_accept_at_all_is_not_acceptable(sim: Sim) -> None:
    headers = {"Authorization": sim.headers["Authorization"], "Accept": ""}

    response = sim.http.get("/order/event-stats", headers=headers)

    assert response.status_code == 406


def test_responses_carry_the_vendor_media_type_and_a_trace_id(sim: Sim) -> None:
    response = sim.get("/order/event-stats")

    assert response.status_code == 200
    assert response.headers["content-type"] == VENDOR
    assert len(response.headers["trace-id"]) == 32


def test_every_response_gets_its_own_trace_id(sim: Sim) -> None:
    first = sim.get("/order/event-stats").headers["trace-id"]
    second = sim.get("/order/event-stats").headers["trace-id"]

    assert first != second


def test_a_call_without_a_token_is_unauthorized(sim: Sim) -> None:
    response = sim.http.get("/order/events", headers={"Accept": VENDOR})

    assert response.status_code == 401
    assert response.json() == {
        "error": "unauthorized",
        "error_description": "Full authentication is required to access this resource",
    }


def test_an_unknown_token_is_an_invalid_token(sim: Sim) -> None:
    headers = {"Accept": VENDOR, "Authorization": "Bearer not-a-token"}

    response = sim.http.get("/order/events", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_an_expired_access_token_is_rejected(make_sim: SimFactory) -> None:
    sim = make_sim(access_token_ttl=100)
    headers = sim.headers
    sim.clock.advance(101)

    response = sim.http.get("/order/events", headers=headers)

    assert response.status_code == 401
    assert response.json()["error_description"].startswith("Access token expired")


def test_an_application_token_cannot_read_the_sellers_orders(sim: Sim) -> None:
    app_token = sim.token_request(grant_type="client_credentials").json()["access_token"]
    headers = {"Accept": VENDOR, "Authorization": f"Bearer {app_token}"}

    response = sim.http.get("/order/events", headers=headers)

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "AccessDenied"


def test_an_unknown_resource_answers_404_in_allegros_error_shape(sim: Sim) -> None:
    response = sim.get("/order/nothing-here")

    assert response.status_code == 404
    assert response.json()["errors"][0]["path"] == "/order/nothing-here"
