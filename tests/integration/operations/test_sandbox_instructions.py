"""`sandbox serve` prints everything a user needs, and what it prints works: the client id
and secret it accepts, a refresh token, and how to approve the device code of `auth login`."""

from __future__ import annotations

import os
import re

import httpx
import pytest

from tests.support.process import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SETTING = re.compile(r"^\s+(ALLEGRO_[A-Z_]+)=(\S+)$")
BROWSER = re.compile(r"in a browser:\s+(http://\S+USER_CODE)")
CURL = re.compile(r"curl -X POST (http://\S+/USER_CODE)")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def printed(simulator: ServiceProcess) -> str:
    simulator.wait_for(
        lambda: any("statistics:" in line for line in simulator.stdout_lines()),
        within=20,
        what="the simulator's instructions",
    )
    return "\n".join(simulator.stdout_lines())


def settings_in(text: str) -> dict[str, str]:
    return {m[1]: m[2] for line in text.splitlines() if (m := SETTING.match(line))}


def serve() -> ServiceProcess:
    args = ("sandbox", "serve", "--port", "0", "--orders", "0", "--no-live")
    return ServiceProcess(dict(os.environ), *args)


def test_the_printed_client_secret_and_refresh_token_are_accepted() -> None:
    with serve() as sim:
        settings = settings_in(printed(sim))
        response = httpx.post(
            f"{settings['ALLEGRO_AUTH_URL']}/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": settings["ALLEGRO_REFRESH_TOKEN"],
            },
            auth=(settings["ALLEGRO_CLIENT_ID"], settings["ALLEGRO_CLIENT_SECRET"]),
            timeout=5,
        )

    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


@pytest.mark.parametrize("how", ["browser", "curl"])
def test_a_device_code_is_approved_as_the_simulator_says(how: str) -> None:
    with serve() as sim:
        text = printed(sim)
        settings = settings_in(text)
        client = (settings["ALLEGRO_CLIENT_ID"], settings["ALLEGRO_CLIENT_SECRET"])
        with httpx.Client(auth=client, timeout=5) as http:
            started = http.post(f"{settings['ALLEGRO_AUTH_URL']}/device").json()
            code = started["user_code"]
            if how == "browser":
                match = BROWSER.search(text)
                assert match, text
                page = match.group(1).replace("USER_CODE", code)
                assert code in httpx.get(page, timeout=5).text  # the form, filled in
                approval = httpx.post(page, data={"code": code, "decision": "approve"}, timeout=5)
                assert "Approved" in approval.text
            else:
                match = CURL.search(text)
                assert match, text
                approval = httpx.post(match.group(1).replace("USER_CODE", code), timeout=5)
                assert approval.status_code == 204
            token = http.post(
                f"{settings['ALLEGRO_AUTH_URL']}/token",
                data={"grant_type": DEVICE_GRANT, "device_code": started["device_code"]},
            )

    assert token.status_code == 200, token.text
    assert token.json()["refresh_token"]
