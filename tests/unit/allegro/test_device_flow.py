"""Device flow: start, then poll through pending / slow_down / denied / expiry."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from adapters.allegro import DeviceAuthorization, DeviceFlow, DeviceFlowError, MalformedResponse
from application.ports.errors import AllegroAuthError, AllegroUnavailable
from application.ports.state import TokenPair

from .fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeAllegroServer,
    FakeTime,
    MemoryTokenStore,
    make_config,
)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
AUTHORIZATION = DeviceAuthorization("dev-123", "cbt3zdu4g", "https://x/skojarz", None, 5.0, 60.0)


def make_flow(fake: FakeAllegroServer, time: FakeTime, store: MemoryTokenStore) -> DeviceFlow:
    return DeviceFlow(
        make_config(account="shop"),
        store,
        transport=httpx.MockTransport(fake),
        clock=time,
        monotonic=time.monotonic,
        sleep=time.sleep,
        jitter=lambda ceiling: ceiling,
    )


def oauth_error(code: str) -> httpx.Response:
    return httpx.Response(400, json={"error": code})


def tokens(**extra: Any) -> httpx.Response:
    body = {"access_token": "acc", "refresh_token": "ref", "expires_in": 43199, **extra}
    return httpx.Response(200, json=body)


def form_of(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def test_start_asks_for_a_code_with_basic_auth() -> None:
    fake, time, store = FakeAllegroServer(), FakeTime(), MemoryTokenStore()
    fake.device_replies.append(
        httpx.Response(
            200,
            json={
                "device_code": "dev-123",
                "user_code": "cbt3zdu4g",
                "verification_uri": "https://allegro.pl/skojarz-aplikacje",
                "verification_uri_complete": "https://allegro.pl/skojarz-aplikacje?code=cbt3zdu4g",
                "expires_in": "3600",
                "interval": "5",
            },
        )
    )
    async with make_flow(fake, time, store) as flow:
        auth = await flow.start()

    assert auth == DeviceAuthorization(
        device_code="dev-123",
        user_code="cbt3zdu4g",
        verification_uri="https://allegro.pl/skojarz-aplikacje",
        verification_uri_complete="https://allegro.pl/skojarz-aplikacje?code=cbt3zdu4g",
        interval=5.0,
        expires_in=3600.0,
    )
    (request,) = fake.requests
    assert request.url == "https://allegro.test/auth/oauth/device"
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {basic}"
    assert form_of(request) == {"client_id": CLIENT_ID}


async def test_start_defaults_a_missing_interval() -> None:
    fake, time, store = FakeAllegroServer(), FakeTime(), MemoryTokenStore()
    body = {"device_code": "d", "user_code": "u", "verification_uri": "v", "expires_in": 3600}
    fake.device_replies.append(httpx.Response(200, json=body))

    async with make_flow(fake, time, store) as flow:
        auth = await flow.start()

    assert (auth.interval, auth.verification_uri_complete) == (5.0, None)


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (httpx.Response(401, json={"error": "unauthorized"}), AllegroAuthError, "client id"),
        (httpx.Response(503, text="down"), AllegroUnavailable, "HTTP 503"),
        (httpx.Response(200, text="<html/>"), MalformedResponse, "not JSON"),
        (httpx.Response(200, json={"user_code": "x"}), MalformedResponse, "device_code"),
        (httpx.ConnectError("refused"), AllegroUnavailable, "unreachable"),
    ],
)
async def test_start_failures(reply: Any, error: type[Exception], message: str) -> None:
    fake, time, store = FakeAllegroServer(), FakeTime(), MemoryTokenStore()
    fake.device_replies.extend([reply] * 6)

    async with make_flow(fake, time, store) as flow:
        with pytest.raises(error, match=message):
            await flow.start()


async def test_polls_while_pending_then_saves_the_pair() -> None:
    fake, time, store = FakeAllegroServer(), FakeTime(), MemoryTokenStore()
    fake.token_replies.extend(
        [oauth_error("authorization_pending"), oauth_error("authorization_pending"), tokens()]
    )
    waits: list[float] = []

    async with make_flow(fake, time, store) as flow:
        pair = await flow.poll_until_done(AUTHORIZATION, waits.append)

    assert pair == TokenPair("acc", "ref", time.now() + timedelta(seconds=43199))
    assert store.pairs == {"shop": pair}
    assert waits == [5.0, 5.0, 5.0]
    assert time.sleeps == [5.0, 5.0, 5.0]
    assert [form_of(r) for r in fake.token_requests] == [
        {"grant_type": DEVICE_GRANT, "device_code": "dev-123"}
    ] * 3


async def test_slow_down_increases_the_interval_for_good() -> None:
    fake, time, store = FakeAllegroServer(), FakeTime(), MemoryTokenStore()
    fake.token_replies.extend(
        [
            oauth_error("slow_down"),
            oauth_error("authorization_pending"),
            oauth_error("slow_down"),
            tokens(),
        ]
    )

    async with make_flow(fake, time, store) as flow:
        await flow.poll_until_done(AUTHORIZATION)

    assert time.sleeps == [5.0, 10.0, 10.0, 15.0]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("access_denied", "denied"),
        ("expired_token", "expired"),
        ("Invalid device code", "failed"),
        ("invalid_client", "failed"),
    ],
)
async def test_terminal_answers_end_the_flow(code: str, reason: str) -> None:
    fake, time, store = FakeAllegroServer(), FakeTime(), MemoryTokenStore()
    fake.token_replies.append(oauth_error(code))

    async with make_flow(fake, time, store) as flow:
        with pytest.raises(DeviceFlowError) as caught:
            await flow.poll_until_done(AUTHORIZATION)

    assert caught.value.reason == reason
    assert "auth login" in str(caught.value)
    assert store.saves == []


async def test_the_flow_gives_up_when_the_code_expires() -> None:
    fake, time, store = FakeAllegroServer(), FakeTime(), MemoryTokenStore()

    def pending(_: httpx.Request) -> httpx.Response:
        return oauth_error("authorization_pending")

    fake.token_replies.extend([pending] * 100)

    async with make_flow(fake, time, store) as flow:
        with pytest.raises(DeviceFlowError) as caught:
            await flow.poll_until_done(AUTHORIZATION)  # 60 s at a 5 s interval

    assert caught.value.reason == "expired"
    assert len(fake.token_requests) == 11
    assert store.saves == []


async def test_a_token_endpoint_outage_while_polling_is_unavailable() -> None:
    fake, time, store = FakeAllegroServer(), FakeTime(), MemoryTokenStore()
    fake.token_replies.extend([httpx.Response(500, text="x")] * 6)

    async with make_flow(fake, time, store) as flow:
        with pytest.raises(AllegroUnavailable):
            await flow.poll_until_done(AUTHORIZATION)
