"""Whose credential the token endpoint refused decides the fix an operator reads: the
application's client id/secret (`invalid_client`, `unauthorized`: a configuration fix) or
the seller's refresh token (`invalid_grant`: `auth login`). docs/allegro-api.md, OAuth."""

from __future__ import annotations

import pytest
import respx

from adapters.allegro import DeviceAuthorization, DeviceFlow, DeviceFlowError, build_allegro_client
from adapters.allegro.errors import ClientRejected
from application.ports.errors import AllegroAuthError
from application.ports.state import TokenPair

from .fakes import AUTH_URL, CLIENT_SECRET, FakeTime, MemoryTokenStore, make_config

TOKEN_URL = f"{AUTH_URL}/token"
DEVICE_URL = f"{AUTH_URL}/device"
AUTHORIZATION = DeviceAuthorization("dev-123", "cbt3zdu4g", "https://x/skojarz", None, 5.0, 60.0)


def expired_store(time: FakeTime) -> MemoryTokenStore:
    return MemoryTokenStore({"default": TokenPair("access-0", "refresh-0", time.now())})


async def refresh_failure(time: FakeTime) -> AllegroAuthError:
    client = build_allegro_client(
        make_config(), expired_store(time), clock=time, monotonic=time.monotonic, sleep=time.sleep
    )
    try:
        with pytest.raises(AllegroAuthError) as caught:
            await client.journal.latest_event_id()
    finally:
        await client.aclose()
    return caught.value


@pytest.mark.parametrize(
    ("status", "code"), [(401, "invalid_client"), (401, "unauthorized"), (400, "invalid_client")]
)
async def test_a_refused_client_secret_names_the_client_variables(
    respx_mock: respx.MockRouter, status: int, code: str
) -> None:
    respx_mock.post(TOKEN_URL).respond(
        status, json={"error": code, "error_description": "Bad client credentials"}
    )

    error = await refresh_failure(FakeTime())

    assert isinstance(error, ClientRejected)
    message = str(error)
    assert "ALLEGRO_CLIENT_ID" in message
    assert "ALLEGRO_CLIENT_SECRET" in message
    assert "auth login" not in message
    assert CLIENT_SECRET not in message


async def test_a_refused_refresh_token_still_asks_for_a_login(
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(TOKEN_URL).respond(
        400, json={"error": "invalid_grant", "error_description": "Invalid refresh token: r"}
    )

    error = await refresh_failure(FakeTime())

    assert not isinstance(error, ClientRejected)
    assert "auth login" in str(error)
    assert "ALLEGRO_CLIENT_SECRET" not in str(error)


def device_flow(time: FakeTime) -> DeviceFlow:
    config = make_config(account="shop")
    return DeviceFlow(
        config, MemoryTokenStore(), clock=time, monotonic=time.monotonic, sleep=time.sleep
    )


async def test_auth_login_with_a_wrong_secret_names_the_client_variables(
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(DEVICE_URL).respond(
        401, json={"error": "invalid_client", "error_description": "Bad client credentials"}
    )

    async with device_flow(FakeTime()) as flow:
        with pytest.raises(ClientRejected) as caught:
            await flow.start()

    assert "ALLEGRO_CLIENT_ID" in str(caught.value)
    assert "ALLEGRO_CLIENT_SECRET" in str(caught.value)


async def test_a_device_poll_refused_for_the_client_names_the_client_variables(
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(TOKEN_URL).respond(401, json={"error": "invalid_client"})
    time = FakeTime()

    async with device_flow(time) as flow:
        with pytest.raises(DeviceFlowError) as caught:
            await flow.poll_until_done(AUTHORIZATION)

    assert caught.value.reason == "failed"
    assert "ALLEGRO_CLIENT_SECRET" in str(caught.value)
    assert time.sleeps == [AUTHORIZATION.interval]  # refused at once, not polled again
