"""Tokens: seeding, proactive and 401-driven refresh, single flight, persistence before use."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from adapters.allegro import MalformedResponse
from adapters.allegro.auth import TokenManager, build_oauth_client
from application.ports.errors import AllegroAuthError, AllegroUnavailable
from application.ports.state import TokenPair

from .fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeAllegroServer,
    FakeTime,
    MemoryTokenStore,
    make_config,
    make_harness,
    settle,
    valid_pair,
    vendor_json,
)

STATS = "/order/event-stats"
OK_STATS = vendor_json(200, {"latestEvent": {"id": "42", "occurredAt": "2026-03-14T10:00:00Z"}})


def expiring_store(time: FakeTime, left: timedelta) -> MemoryTokenStore:
    return MemoryTokenStore({"default": TokenPair("access-0", "refresh-0", time.now() + left)})


def form_of(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def refresh_tokens_sent(fake: FakeAllegroServer) -> list[str]:
    return [form_of(r)["refresh_token"] for r in fake.token_requests]


class StoreDown(Exception):
    pass


class FlakyStore(MemoryTokenStore):
    """A store that refuses the next `failures` saves, as one that is down or restarting."""

    failures = 0

    async def save(self, account: str, pair: TokenPair) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise StoreDown("state store unavailable")
        await super().save(account, pair)


class GatedStore(MemoryTokenStore):
    """A store whose saves wait for `gate`; `saving` and `saved` tell how far one got."""

    def __init__(self, pairs: dict[str, TokenPair]) -> None:
        super().__init__(pairs)
        self.saving = asyncio.Event()
        self.gate = asyncio.Event()
        self.saved = asyncio.Event()

    async def save(self, account: str, pair: TokenPair) -> None:
        self.saving.set()
        await self.gate.wait()
        await super().save(account, pair)
        self.saved.set()


async def abandon_during_the_save(call: Coroutine[Any, Any, object], store: GatedStore) -> None:
    """Runs `call` until it refreshes and waits on the store's save, then cancels it."""
    caller = asyncio.create_task(call)
    await asyncio.wait_for(store.saving.wait(), timeout=5.0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller


async def test_a_fresh_token_is_used_without_refreshing() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(minutes=6)))
    h.fake.script(STATS, OK_STATS)

    await h.client.journal.latest_event_id()

    assert h.fake.token_requests == []
    assert h.fake.api_requests[0].headers["Authorization"] == "Bearer access-0"


async def test_a_token_expiring_within_five_minutes_is_refreshed_first() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(minutes=4, seconds=59)))
    h.fake.script(STATS, OK_STATS)

    await h.client.journal.latest_event_id()

    (token_request,) = h.fake.token_requests
    assert form_of(token_request) == {"grant_type": "refresh_token", "refresh_token": "refresh-0"}
    assert h.fake.api_requests[0].headers["Authorization"] == "Bearer access-1"
    assert h.store.pairs["default"] == TokenPair(
        "access-1", "refresh-1", time.now() + timedelta(seconds=43199), "allegro:api:orders:read"
    )


async def test_the_token_request_uses_client_secret_basic_and_a_form_body() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(0)))
    h.fake.script(STATS, OK_STATS)

    await h.client.journal.latest_event_id()

    (request,) = h.fake.token_requests
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request.method == "POST"
    assert request.url == "https://allegro.test/auth/oauth/token"
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert request.headers["User-Agent"].startswith("openoms-allegro/")
    assert CLIENT_SECRET not in request.content.decode()


async def test_refresh_tokens_rotate_on_every_use() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(0)))
    h.fake.script(STATS, OK_STATS)

    await h.client.journal.latest_event_id()
    time.advance(43199 - 200)  # the new access token now has < 5 min left
    await h.client.journal.latest_event_id()

    assert [form_of(r)["refresh_token"] for r in h.fake.token_requests] == [
        "refresh-0",
        "refresh-1",
    ]
    assert [pair.refresh_token for pair in h.store.saves] == ["refresh-1", "refresh-2"]


async def test_an_empty_store_is_seeded_from_the_initial_refresh_token() -> None:
    h = make_harness(store=MemoryTokenStore(), initial_refresh_token="refresh-0")
    h.fake.script(STATS, OK_STATS)

    await h.client.journal.latest_event_id()

    assert form_of(h.fake.token_requests[0])["refresh_token"] == "refresh-0"
    assert h.store.pairs["default"].refresh_token == "refresh-1"


async def test_the_initial_refresh_token_is_ignored_once_the_store_holds_tokens() -> None:
    time = FakeTime()
    store = expiring_store(time, timedelta(0))
    h = make_harness(time=time, store=store, initial_refresh_token="stale-from-env")
    h.fake.script(STATS, OK_STATS)

    await h.client.journal.latest_event_id()

    assert form_of(h.fake.token_requests[0])["refresh_token"] == "refresh-0"


async def test_tokens_are_kept_per_account() -> None:
    time = FakeTime()
    store = MemoryTokenStore({"shop-2": valid_pair(time)})
    h = make_harness(time=time, store=store, account="shop-2")
    h.fake.script(STATS, OK_STATS)

    assert await h.client.journal.latest_event_id() == "42"
    assert h.fake.token_requests == []


async def test_no_tokens_at_all_tells_the_operator_to_log_in() -> None:
    h = make_harness(store=MemoryTokenStore())

    with pytest.raises(AllegroAuthError, match="openoms-allegro auth login"):
        await h.client.journal.latest_event_id()

    assert h.fake.requests == []


async def test_a_401_refreshes_once_and_retries_with_the_saved_pair() -> None:
    h = make_harness()
    h.fake.script(STATS, OK_STATS)
    h.fake.access_token = "revoked-elsewhere"  # Allegro no longer accepts access-0
    h.fake.refresh_token = "refresh-0"
    seen: list[tuple[str, str | None]] = []

    def check(request: httpx.Request) -> None:
        stored = h.store.pairs["default"].access_token
        seen.append((request.headers["Authorization"], stored))

    h.fake.on_api_request = check

    assert await h.client.journal.latest_event_id() == "42"

    assert seen == [("Bearer access-0", "access-0"), ("Bearer access-1", "access-1")]
    assert len(h.fake.token_requests) == 1


async def test_a_second_401_is_an_auth_error() -> None:
    h = make_harness()
    h.fake.script(STATS, OK_STATS)

    def never_accept(request: httpx.Request) -> None:
        h.fake.access_token = "nothing-you-have"

    h.fake.on_api_request = never_accept

    with pytest.raises(AllegroAuthError, match="freshly refreshed access token was rejected"):
        await h.client.journal.latest_event_id()

    assert len(h.fake.api_requests) == 2
    assert len(h.fake.token_requests) == 1


async def test_the_second_401_does_not_echo_the_token_allegro_quotes() -> None:
    h = make_harness()
    h.fake.script(STATS, OK_STATS)
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJ1c2VyX25hbWUiOiIxIn0.c2lnbmF0dXJlLXZhbHVl"

    def reject(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        body = {"error": "invalid_token", "error_description": f"expired: {token} {jwt_like}"}
        return vendor_json(401, body)

    h.fake.script("/order/events", reject)

    with pytest.raises(AllegroAuthError) as caught:
        await h.client.journal.fetch(None, 10)

    message = str(caught.value)
    assert "invalid_token: expired: [token] [token]" in message
    assert "access-" not in message
    assert jwt_like not in message


async def test_invalid_grant_is_an_auth_error_that_does_not_echo_the_token() -> None:
    time = FakeTime()
    store = MemoryTokenStore({"default": TokenPair("a", "rt-secret-value", time.now())})
    h = make_harness(time=time, store=store)
    h.fake.token_replies.append(
        httpx.Response(
            400,
            json={
                "error": "invalid_grant",
                "error_description": "Invalid refresh token: rt-secret-value",
            },
        )
    )

    with pytest.raises(AllegroAuthError, match="invalid_grant") as caught:
        await h.client.journal.latest_event_id()

    assert "rt-secret-value" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert "auth login" in str(caught.value)
    assert h.store.saves == []


async def test_invalid_client_is_an_auth_error() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(0)))
    h.fake.token_replies.append(
        httpx.Response(401, json={"error": "invalid_client", "error_description": "Bad creds"})
    )

    with pytest.raises(AllegroAuthError, match="invalid_client"):
        await h.client.journal.latest_event_id()


async def test_concurrent_callers_share_one_refresh() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(minutes=1)))
    h.fake.script(STATS, OK_STATS)

    results = await asyncio.gather(*(h.client.journal.latest_event_id() for _ in range(10)))

    assert results == ["42"] * 10
    assert len(h.fake.token_requests) == 1
    assert len(h.store.saves) == 1
    assert {r.headers["Authorization"] for r in h.fake.api_requests} == {"Bearer access-1"}


async def test_concurrent_401s_share_one_refresh() -> None:
    h = make_harness(rate_limit_burst=50)
    h.fake.script(STATS, OK_STATS)
    await h.client.token_expires_at()  # load the pair before Allegro revokes it
    h.fake.access_token = "revoked"
    used_while_stored: list[tuple[str, str]] = []
    h.fake.on_api_request = lambda request: used_while_stored.append(
        (request.headers["Authorization"], h.store.pairs["default"].access_token)
    )

    results = await asyncio.gather(*(h.client.journal.latest_event_id() for _ in range(8)))

    assert results == ["42"] * 8
    assert len(h.fake.token_requests) == 1
    assert [pair.access_token for pair in h.store.saves] == ["access-1"]
    retried = [stored for sent, stored in used_while_stored if sent == "Bearer access-1"]
    assert retried == ["access-1"] * 8  # every retry used a pair that was already saved


async def test_the_refreshed_pair_is_saved_before_the_token_endpoint_reply_is_used() -> None:
    time = FakeTime()
    store = FlakyStore(expiring_store(time, timedelta(0)).pairs)
    store.failures = 3  # every attempt of the first use
    h = make_harness(time=time, store=store)
    h.fake.script(STATS, OK_STATS)

    with pytest.raises(StoreDown):
        await h.client.journal.latest_event_id()

    assert h.fake.api_requests == []  # the unsaved access token was never used
    assert h.time.sleeps == [1.0, 2.0]  # the save was retried, with pauses between


async def test_a_save_that_fails_once_is_retried_and_the_next_refresh_uses_the_new_token() -> None:
    time = FakeTime()
    store = FlakyStore(expiring_store(time, timedelta(0)).pairs)
    store.failures = 1
    h = make_harness(time=time, store=store)
    h.fake.script(STATS, OK_STATS)

    assert await h.client.journal.latest_event_id() == "42"
    time.advance(43199 - 200)  # the new access token now has < 5 min left
    assert await h.client.journal.latest_event_id() == "42"

    assert refresh_tokens_sent(h.fake) == ["refresh-0", "refresh-1"]
    assert h.store.pairs["default"].refresh_token == "refresh-2"


async def test_a_pair_the_store_refused_is_kept_and_saved_at_the_next_use() -> None:
    time = FakeTime()
    store = FlakyStore(expiring_store(time, timedelta(0)).pairs)
    store.failures = 3
    h = make_harness(time=time, store=store)
    h.fake.script(STATS, OK_STATS)
    with pytest.raises(StoreDown):
        await h.client.journal.latest_event_id()

    assert await h.client.journal.latest_event_id() == "42"  # the store is back

    assert refresh_tokens_sent(h.fake) == ["refresh-0"]  # no second refresh
    assert h.store.pairs["default"].refresh_token == "refresh-1"
    assert h.fake.api_requests[-1].headers["Authorization"] == "Bearer access-1"
    time.advance(43199 - 200)
    assert await h.client.journal.latest_event_id() == "42"
    assert refresh_tokens_sent(h.fake) == ["refresh-0", "refresh-1"]


async def test_a_caller_cancelled_during_the_save_does_not_lose_the_pair() -> None:
    time = FakeTime()
    store = GatedStore(expiring_store(time, timedelta(0)).pairs)
    h = make_harness(time=time, store=store)
    h.fake.script(STATS, OK_STATS)
    await abandon_during_the_save(h.client.journal.latest_event_id(), store)

    store.gate.set()
    await asyncio.wait_for(store.saved.wait(), timeout=5.0)  # the refresh went on without it

    assert store.pairs["default"].refresh_token == "refresh-1"
    time.advance(43199 - 200)
    assert await h.client.journal.latest_event_id() == "42"
    assert refresh_tokens_sent(h.fake) == ["refresh-0", "refresh-1"]


async def test_a_caller_arriving_during_an_abandoned_save_waits_for_it() -> None:
    time = FakeTime()
    store = GatedStore(expiring_store(time, timedelta(0)).pairs)
    h = make_harness(time=time, store=store)
    h.fake.script(STATS, OK_STATS)
    await abandon_during_the_save(h.client.journal.latest_event_id(), store)

    later = asyncio.create_task(h.client.journal.latest_event_id())
    await asyncio.sleep(0)
    store.gate.set()

    assert await asyncio.wait_for(later, timeout=5.0) == "42"
    assert refresh_tokens_sent(h.fake) == ["refresh-0"]
    assert [pair.refresh_token for pair in store.saves] == ["refresh-1"]
    assert h.fake.api_requests[-1].headers["Authorization"] == "Bearer access-1"


async def test_closing_lets_a_refresh_in_flight_land_in_the_store() -> None:
    time = FakeTime()
    store = GatedStore(expiring_store(time, timedelta(0)).pairs)
    h = make_harness(time=time, store=store)
    await abandon_during_the_save(h.client.journal.latest_event_id(), store)

    closing = asyncio.create_task(h.client.aclose())
    await asyncio.sleep(0)
    assert not closing.done()  # waiting for the save
    store.gate.set()
    await asyncio.wait_for(closing, timeout=5.0)

    assert store.pairs["default"].refresh_token == "refresh-1"


async def test_closing_waits_for_a_stuck_save_no_longer_than_the_landing_timeout() -> None:
    time = FakeTime()
    store = GatedStore(expiring_store(time, timedelta(0)).pairs)  # the gate never opens
    fake = FakeAllegroServer()
    tokens = TokenManager(
        build_oauth_client(make_config(), httpx.MockTransport(fake)),
        token_url=make_config().token_url,
        store=store,
        account="default",
        initial_refresh_token=None,
        clock=time,
        sleep=time.sleep,
        landing_timeout=0.01,
    )
    await abandon_during_the_save(tokens.access_token(), store)

    await asyncio.wait_for(tokens.aclose(), timeout=5.0)

    assert store.saves == []  # closed without the save
    store.gate.set()  # let the abandoned flight finish before the loop closes
    await settle()


async def test_tokens_stored_by_another_process_are_taken_over() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(0)))
    h.fake.script(STATS, OK_STATS)
    await h.client.token_expires_at()  # loaded the expiring pair
    h.store.pairs["default"] = valid_pair(time, "access-9", "refresh-9")  # e.g. `auth login`
    h.fake.access_token = "access-9"

    assert await h.client.journal.latest_event_id() == "42"
    assert h.fake.token_requests == []


async def test_token_endpoint_5xx_is_retried_through_the_shared_stack() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(0)))
    h.fake.token_replies.append(httpx.Response(503, text="busy"))
    h.fake.script(STATS, OK_STATS)

    assert await h.client.journal.latest_event_id() == "42"

    assert [(e, s) for e, s, _ in h.observer.requests] == [
        ("/auth/oauth/token", 503),
        ("/auth/oauth/token", 200),
        (STATS, 200),
    ]
    assert h.time.sleeps == [1.0]


async def test_token_endpoint_down_is_unavailable_not_an_auth_error() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(0)), max_attempts=2)
    h.fake.token_replies.extend([httpx.Response(502, text="x"), httpx.Response(502, text="x")])

    with pytest.raises(AllegroUnavailable, match="HTTP 502"):
        await h.client.journal.latest_event_id()


async def test_token_endpoint_unreachable_is_unavailable() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(0)), max_attempts=1)
    h.fake.token_replies.append(httpx.ConnectError("refused"))

    with pytest.raises(AllegroUnavailable, match="unreachable"):
        await h.client.journal.latest_event_id()


async def test_a_token_reply_without_tokens_is_malformed() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(0)))
    h.fake.token_replies.append(httpx.Response(200, json={"token_type": "bearer"}))

    with pytest.raises(MalformedResponse, match="without an access"):
        await h.client.journal.latest_event_id()


async def test_a_token_reply_that_is_not_json_is_malformed() -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(0)))
    h.fake.token_replies.append(httpx.Response(200, text="<html/>"))

    with pytest.raises(MalformedResponse, match="JSON object"):
        await h.client.journal.latest_event_id()


@pytest.mark.parametrize(("expires_in", "seconds"), [("3600", 3600), (600.0, 600), (None, 43199)])
async def test_expires_in_may_be_a_string_or_missing(expires_in: object, seconds: int) -> None:
    time = FakeTime()
    h = make_harness(time=time, store=expiring_store(time, timedelta(0)))
    h.fake.expires_in = expires_in
    h.fake.script(STATS, OK_STATS)

    await h.client.journal.latest_event_id()

    assert await h.client.token_expires_at() == time.now() + timedelta(seconds=seconds)


async def test_token_expires_at() -> None:
    time = FakeTime()
    h = make_harness(time=time)

    assert await h.client.token_expires_at() == time.now() + timedelta(hours=12)
    assert await make_harness(store=MemoryTokenStore()).client.token_expires_at() is None
