"""`sandbox serve --refresh-token`: the fixed token docker-compose gives the service works."""

from __future__ import annotations

import os
import re

import httpx
import pytest

from sandbox.allegro import SimulatorConfig
from tests.support.process import service_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FIXED = "compose-refresh-token-for-the-simulator"
LISTENING = re.compile(r"Allegro simulator listening on (http://127\.0\.0\.1:\d+)")


def simulator_url(lines: list[str]) -> str | None:
    for line in lines:
        match = LISTENING.search(line)
        if match:
            return match.group(1)
    return None


@pytest.mark.parametrize(("token", "accepted"), [(FIXED, True), ("some-other-token", False)])
def test_the_simulator_accepts_the_refresh_token_it_was_given(token: str, accepted: bool) -> None:
    config = SimulatorConfig()
    args = ("sandbox", "serve", "--port", "0", "--orders", "0", "--no-live")
    with service_process(dict(os.environ), *args, "--refresh-token", FIXED) as simulator:
        simulator.wait_for(
            lambda: simulator_url(simulator.stdout_lines()) is not None,
            within=20,
            what="the simulator's address",
        )
        url = simulator_url(simulator.stdout_lines())
        response = httpx.post(
            f"{url}/auth/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=(config.client_id, config.client_secret),
            timeout=5,
        )
        simulator.terminate()
        exit_code = simulator.wait_exit(within=10)

    assert f"  ALLEGRO_REFRESH_TOKEN={FIXED}" in simulator.stdout_lines()
    assert (response.status_code == 200) is accepted
    if accepted:
        assert response.json()["refresh_token"] != FIXED  # rotated on use, as Allegro does
    assert exit_code == 0
