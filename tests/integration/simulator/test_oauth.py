"""Token endpoint and device flow: rotation, grace, supersession, device polling rules."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.integration.simulator.conftest import CLIENT_AUTH, VENDOR, Sim, SimFactory

pytestmark = pytest.mark.integration

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _bearer(token: str) -> dict[str, str]:
    return {"Accept": VENDOR, "Authorization": f"Bearer {token}"}


def test_refresh_returns_a_new_bearer_pair_with_allegros_fields(sim: Sim) -> None:
    response = sim.refresh(sim.state.initial_refresh_token)

    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 43199
    assert "allegro:api:orders:read" in body["scope"].split()
    assert body["refresh_token"] != sim.state.initial_refresh_token
    claims = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    assert claims["jti"] == body["jti"]


def test_every_refresh_rotates_both_tokens(sim: Sim) -> None:
    first = sim.refresh(sim.state.initial_refresh_token).json()
    second = sim.refresh(first["refresh_token"]).json()

    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]


def test_the_previous_access_token_dies_when_a_new_pair_is_issued(sim: Sim) -> None:
    first = sim.refresh(sim.state.initial_refresh_token).json()
    assert sim.http.get("/order/events", headers=_bearer(first["access_token"])).status_code == 200

    second = sim.refresh(first["refresh_token"]).json()

    old = sim.http.get("/order/events", headers=_bearer(first["access_token"]))
    new = sim.http.get("/order/events", headers=_bearer(second["access_token"]))
    assert old.status_code == 401
    assert old.json()["error"] == "invalid_token"
    assert new.status_code == 200


def test_a_used_refresh_token_works_during_the_grace_period_only(make_sim: SimFactory) -> None:
    sim = make_sim(refresh_grace_seconds=60.0)
    original = sim.state.initial_refresh_token
    assert sim.refresh(original).status_code == 200
    sim.clock.advance(59)

    within = sim.refresh(original)
    sim.clock.advance(2)
    after = sim.refresh(original)

    assert within.status_code == 200
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"
    assert after.json()["error_description"].startswith("Invalid refresh token")


def test_the_grace_period_runs_on_real_time_too() -> None:
    state = SimulatorState(SimulatorConfig(refresh_grace_seconds=0.3))
    form = {"grant_type": "refresh_token", "refresh_token": state.initial_refresh_token}
    with (
        SimulatorServer(state) as server,
        httpx.Client(base_url=server.url, auth=CLIENT_AUTH, timeout=5) as client,
    ):
        assert client.post("/auth/oauth/token", data=form).status_code == 200
        deadline = time.monotonic() + 5
        status = 200
        while status == 200 and time.monotonic() < deadline:
            status = client.post("/auth/oauth/token", data=form).status_code

    assert status == 400


def test_an_unused_refresh_token_is_not_limited_by_the_grace_period(sim: Sim) -> None:
    fresh = sim.refresh(sim.state.initial_refresh_token).json()["refresh_token"]
    sim.clock.advance(3600)

    assert sim.refresh(fresh).status_code == 200


def test_an_unknown_refresh_token_is_an_invalid_grant(sim: Sim) -> None:
    response = sim.refresh("garbage")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_bad_client_credentials_are_rejected(sim: Sim) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": sim.state.initial_refresh_token}

    wrong = sim.http.post("/auth/oauth/token", data=form, auth=("sim-client", "nope"))
    missing = sim.http.post("/auth/oauth/token", data=form)

    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized"


def test_parameters_in_the_query_string_work_too(sim: Sim) -> None:
    params = {"grant_type": "refresh_token", "refresh_token": sim.state.initial_refresh_token}

    response = sim.http.post("/auth/oauth/token", params=params, auth=CLIENT_AUTH)

    assert response.status_code == 200


def test_an_unsupported_grant_type_is_a_400(sim: Sim) -> None:
    response = sim.token_request(grant_type="password")

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_revoking_tokens_forces_re_authorisation(sim: Sim) -> None:
    headers = sim.headers
    sim.state.revoke_tokens()

    assert sim.http.get("/order/events", headers=headers).status_code == 401
    assert sim.refresh(sim.state.initial_refresh_token).status_code == 400
    assert sim.refresh(sim.state.issue_refresh_token()).status_code == 200


def _start_device(sim: Sim) -> dict[str, object]:
    response = sim.http.post(
        "/auth/oauth/device", data={"client_id": "sim-client"}, auth=CLIENT_AUTH
    )
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def _poll(sim: Sim, device_code: object) -> tuple[int, dict[str, object]]:
    response = sim.token_request(grant_type=DEVICE_GRANT, device_code=str(device_code))
    return response.status_code, response.json()


def test_device_flow_from_code_to_token(sim: Sim) -> None:
    device = _start_device(sim)
    assert device["interval"] == 5
    assert device["expires_in"] == 3600
    assert len(str(device["user_code"])) == 9
    assert str(device["verification_uri_complete"]).endswith(f"?code={device['user_code']}")

    pending = _poll(sim, device["device_code"])
    sim.clock.advance(5)
    sim.state.approve_device(str(device["user_code"]))
    granted = _poll(sim, device["device_code"])
    sim.clock.advance(5)
    again = _poll(sim, device["device_code"])

    assert pending == (400, {"error": "authorization_pending"})
    assert granted[0] == 200
    assert granted[1]["token_type"] == "bearer"
    assert sim.http.get(
        "/order/events", headers=_bearer(str(granted[1]["access_token"]))
    ).is_success
    assert again == (400, {"error": "Invalid device code"})


def test_polling_faster_than_the_interval_means_slow_down(sim: Sim) -> None:
    device = _start_device(sim)
    _poll(sim, device["device_code"])
    sim.clock.advance(4)

    too_fast = _poll(sim, device["device_code"])
    sim.clock.advance(9)  # slow_down raised the interval to 10 s
    still_too_fast = _poll(sim, device["device_code"])
    sim.clock.advance(15)
    patient = _poll(sim, device["device_code"])

    assert too_fast == (400, {"error": "slow_down"})
    assert still_too_fast == (400, {"error": "slow_down"})
    assert patient == (400, {"error": "authorization_pending"})


def test_a_denied_device_gets_access_denied(sim: Sim) -> None:
    device = _start_device(sim)
    sim.state.deny_device(str(device["user_code"]))

    assert _poll(sim, device["device_code"]) == (400, {"error": "access_denied"})


def test_an_expired_device_code_stops_the_flow(sim: Sim) -> None:
    device = _start_device(sim)
    sim.clock.advance(3601)

    status, body = _poll(sim, device["device_code"])

    assert status == 400
    assert body["error"] == "expired_token"


def test_the_verification_page_approves_a_code(sim: Sim) -> None:
    device = _start_device(sim)
    page = sim.http.get(str(device["verification_uri_complete"]))

    sim.http.post("/skojarz-aplikacje", data={"code": device["user_code"], "decision": "approve"})

    assert page.status_code == 200
    assert str(device["user_code"]) in page.text
    assert _poll(sim, device["device_code"])[0] == 200
