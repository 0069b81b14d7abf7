"""Driving the simulator from outside: /__sim endpoints, the request log, live activity,
and `run_forever` as `openoms-allegro sandbox serve` runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sandbox.allegro import SimulatorServer, SimulatorState, start_live_activity
from tests.integration.simulator.conftest import Sim

pytestmark = pytest.mark.integration

_SRC = Path(__file__).resolve().parents[3] / "src"


def test_admin_orders_places_paid_orders(sim: Sim) -> None:
    ids = sim.http.post("/__sim/orders", json={"count": 3}).json()["ids"]

    assert len(ids) == 3
    assert all(sim.state.ever_reached(oid, "READY_FOR_PROCESSING") for oid in ids)


def test_admin_script_and_stats(sim: Sim) -> None:
    ids = sim.http.post("/__sim/script", json={"n": 20, "seed": 1}).json()["ids"]

    stats = sim.http.get("/__sim/stats").json()

    assert len(ids) == 20
    assert stats["orders"] >= 20
    assert stats["latestEventId"] == sim.state.journal()[-1]["id"]


def test_admin_rejects_a_bad_count(sim: Sim) -> None:
    assert sim.http.post("/__sim/orders", json={"count": "many"}).status_code == 400


def test_admin_tokens_hands_out_working_refresh_tokens(sim: Sim) -> None:
    refresh_token = sim.http.post("/__sim/tokens").json()["refresh_token"]

    assert sim.refresh(refresh_token).status_code == 200


def test_admin_can_approve_a_device_code(sim: Sim) -> None:
    device = sim.http.post(
        "/auth/oauth/device", data={"client_id": "sim-client"}, auth=("sim-client", "sim-secret")
    ).json()

    approved = sim.http.post(f"/__sim/devices/{device['user_code']}", json={"approve": True})
    again = sim.http.post(f"/__sim/devices/{device['user_code']}", json={"approve": True})

    assert approved.status_code == 204
    assert again.status_code == 404


def test_the_request_log_records_rest_and_oauth_calls_without_secrets(sim: Sim) -> None:
    sim.authorize()
    sim.http.delete("/__sim/requests")
    other_session = sim.state.issue_refresh_token()  # leaves the test's own token valid
    sim.http.post(
        "/auth/oauth/token",
        params={"grant_type": "refresh_token", "refresh_token": other_session},
        auth=("sim-client", "sim-secret"),
    )
    sim.get("/order/events", limit=5)
    sim.http.get("/__sim/stats")

    log = sim.http.get("/__sim/requests").json()["requests"]

    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/auth/oauth/token", 200),
        ("GET", "/order/events", 200),
    ]
    assert other_session not in str(log)
    assert "refresh_token=%2A%2A%2A" in log[0]["query"]
    assert log[1]["query"] == "limit=5"
    assert {e["client_id"] for e in log} == {"sim-client"}
    assert sim.state.request_log[1].path == "/order/events"


def test_live_activity_keeps_events_flowing(sim: Sim) -> None:
    stop = threading.Event()
    thread = start_live_activity(sim.state, 0.01, stop, seed=1)
    try:
        deadline = time.monotonic() + 10
        while len(sim.state.journal()) < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(5)

    assert len(sim.state.journal()) >= 30
    assert not thread.is_alive()


def test_two_servers_run_side_by_side_on_free_ports() -> None:
    with SimulatorServer(SimulatorState()) as first, SimulatorServer(SimulatorState()) as second:
        assert first.url != second.url
        assert first.oauth_url == first.url + "/auth/oauth"
        assert httpx.get(second.url + "/__sim/stats").status_code == 200


def test_run_forever_serves_until_sigterm() -> None:
    code = (
        "from sandbox.allegro import SimulatorConfig, run_forever\n"
        "run_forever(SimulatorConfig(), '127.0.0.1', 0, orders=25, live=True,"
        " live_interval_seconds=0.05)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(_SRC), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        url = first_line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        stats = httpx.get(url + "/__sim/stats", timeout=5).json()
        assert stats["orders"] >= 25
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
