"""The per-client rate limit and the fault plan (from Python and over /__sim/faults)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.simulator.conftest import Sim, SimFactory

pytestmark = pytest.mark.integration


def _statuses(sim: Sim, count: int) -> list[int]:
    return [sim.get("/order/event-stats").status_code for _ in range(count)]


def test_exceeding_the_limit_blocks_the_client_for_the_block_period(make_sim: SimFactory) -> None:
    sim = make_sim(rate_limit_per_minute=5, block_seconds=60.0)
    sim.authorize()  # the token endpoint is not rate limited

    burst = _statuses(sim, 7)
    sim.clock.advance(59)
    still_blocked = _statuses(sim, 1)
    sim.clock.advance(2)
    released = _statuses(sim, 1)

    assert burst == [200] * 5 + [429, 429]
    assert still_blocked == [429]
    assert released == [200]


def test_the_window_slides(make_sim: SimFactory) -> None:
    sim = make_sim(rate_limit_per_minute=4)
    sim.authorize()
    assert _statuses(sim, 2) == [200, 200]
    sim.clock.advance(30)
    assert _statuses(sim, 2) == [200, 200]
    sim.clock.advance(31)  # the first two have left the window

    assert _statuses(sim, 3) == [200, 200, 429]


def test_a_429_carries_allegros_error_body_and_no_retry_after(make_sim: SimFactory) -> None:
    sim = make_sim(rate_limit_per_minute=1)
    sim.get("/order/event-stats")

    response = sim.get("/order/event-stats")

    assert response.status_code == 429
    assert "errors" in response.json()
    assert "retry-after" not in response.headers


def test_retry_after_can_be_switched_on(make_sim: SimFactory) -> None:
    sim = make_sim(rate_limit_per_minute=1)
    sim.state.faults.retry_after_on_429 = 7
    sim.get("/order/event-stats")

    response = sim.get("/order/event-stats")

    assert response.headers["retry-after"] == "7"


def test_the_error_queue_answers_the_next_rest_requests_in_order(sim: Sim) -> None:
    sim.authorize()
    sim.state.faults.next_errors = [500, 503, 504]

    responses = [sim.get("/order/events") for _ in range(4)]

    assert [r.status_code for r in responses] == [500, 503, 504, 200]
    assert responses[1].json()["errors"][0]["code"] == "SERVICE_UNAVAILABLE"
    assert responses[2].json()["errors"][0]["userMessage"] == (
        "Query response time exceeded. Try again."
    )


def test_faults_spare_oauth_and_the_admin_endpoints(sim: Sim) -> None:
    sim.state.faults.next_errors = [503]

    token = sim.refresh(sim.state.initial_refresh_token)
    admin = sim.http.get("/__sim/stats")
    rest = sim.http.get("/order/events", headers=sim.headers)

    assert (token.status_code, admin.status_code, rest.status_code) == (200, 200, 503)


def test_error_rate_one_fails_every_request_with_a_real_5xx_body(sim: Sim) -> None:
    sim.authorize()
    sim.state.faults.error_rate = 1.0

    responses = [sim.get("/order/events") for _ in range(10)]

    assert {r.status_code for r in responses} <= {500, 503, 504}
    assert all(r.json()["errors"][0]["code"] for r in responses)


def test_a_rate_limit_fault_also_blocks_the_client(sim: Sim) -> None:
    sim.authorize()
    sim.state.faults.rate_limit_rate = 1.0
    first = sim.get("/order/events").status_code
    sim.state.faults.rate_limit_rate = 0.0

    assert first == 429
    assert sim.get("/order/events").status_code == 429  # blocked
    sim.clock.advance(61)
    assert sim.get("/order/events").status_code == 200


def test_a_hang_makes_the_client_time_out(sim: Sim) -> None:
    headers = sim.headers
    sim.state.faults.update({"timeout_rate": 1.0, "hang_seconds": 30})

    with pytest.raises(httpx.ReadTimeout):
        sim.http.get("/order/events", headers=headers, timeout=0.3)
    sim.state.faults.timeout_rate = 0.0

    assert sim.get("/order/events").status_code == 200


def test_a_delay_slows_the_answer_down(sim: Sim) -> None:
    sim.authorize()
    sim.state.faults.update({"delay_rate": 1.0, "delay_seconds": 0.3})

    started = time.monotonic()
    response = sim.get("/order/events")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_faults_can_be_driven_over_http(sim: Sim) -> None:
    changed = sim.http.post("/__sim/faults", json={"next_errors": [502], "error_rate": 0.0})
    rejected = sim.http.post("/__sim/faults", json={"error_rate": 2})
    unknown = sim.http.post("/__sim/faults", json={"typo": 1})

    assert changed.json()["next_errors"] == [502]
    assert rejected.status_code == 400
    assert unknown.status_code == 400
    assert sim.get("/order/events").status_code == 502
    assert sim.http.get("/__sim/faults").json()["next_errors"] == []


def test_random_faults_are_reproducible_for_a_seed(make_sim: SimFactory) -> None:
    def run() -> list[int]:
        sim = make_sim(seed=5)
        sim.authorize()
        sim.state.faults.error_rate = 0.5
        return [sim.get("/order/event-stats").status_code for _ in range(20)]

    first, second = run(), run()

    assert first == second
    assert 200 in first
    assert set(first) - {200}
