"""Fixtures: a simulator served over real HTTP on 127.0.0.1, and clients that talk to it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sandbox.allegro import ManualClock, SimulatorConfig, SimulatorServer, SimulatorState

VENDOR = "application/vnd.allegro.public.v1+json"
CLIENT_AUTH = ("sim-client", "sim-secret")


class Sim:
    """One running simulator: its state, its clock, an HTTP client and a user token."""

    def __init__(self, state: SimulatorState, server: SimulatorServer, clock: ManualClock) -> None:
        self.state = state
        self.server = server
        self.clock = clock
        self.http = httpx.Client(base_url=server.url, timeout=5.0)
        self._access_token: str | None = None

    def token_request(self, **form: str) -> httpx.Response:
        return self.http.post("/auth/oauth/token", data=form, auth=CLIENT_AUTH)

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.token_request(grant_type="refresh_token", refresh_token=refresh_token)

    @property
    def headers(self) -> dict[str, str]:
        """Vendor Accept plus a valid bearer token (obtained once per test)."""
        return self.authorize()

    def authorize(self) -> dict[str, str]:
        if self._access_token is None:
            response = self.refresh(self.state.initial_refresh_token)
            assert response.status_code == 200, response.text
            self._access_token = response.json()["access_token"]
        return {"Accept": VENDOR, "Authorization": f"Bearer {self._access_token}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.headers)

    def put_fulfillment(
        self, order_id: str, status: str, revision: str | None = None
    ) -> httpx.Response:
        params = {"checkoutForm.revision": revision} if revision else {}
        return self.http.put(
            f"/order/checkout-forms/{order_id}/fulfillment",
            params=params,
            json={"status": status},
            headers={**self.headers, "Content-Type": VENDOR},
        )


SimFactory = Callable[..., Sim]


@pytest.fixture(scope="session")
def _stopping() -> Iterator[list[threading.Thread]]:
    """uvicorn takes ~0.2 s to shut down; stopping in the background keeps the suite fast."""
    threads: list[threading.Thread] = []
    yield threads
    for thread in threads:
        thread.join(10)


@pytest.fixture
def make_sim(_stopping: list[threading.Thread]) -> Iterator[SimFactory]:
    """Start a simulator with config overrides; every one started is stopped afterwards."""
    started: list[Sim] = []

    def make(**overrides: Any) -> Sim:
        clock = ManualClock()
        state = SimulatorState(SimulatorConfig(**overrides), clock=clock)
        server = SimulatorServer(state)
        server.start()
        sim = Sim(state, server, clock)
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.http.close()
        stopper = threading.Thread(target=sim.server.stop)
        stopper.start()
        _stopping.append(stopper)


@pytest.fixture
def sim(make_sim: SimFactory) -> Sim:
    return make_sim()
