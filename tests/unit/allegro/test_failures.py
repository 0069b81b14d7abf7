"""Allegro's failures: 4xx rejections, 5xx/timeouts with backoff, 429 blocks."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from application.ports.errors import AllegroRejected, AllegroUnavailable

from .builders import FORM_ID, make_checkout_form
from .fakes import ManualTime, allegro_error, make_harness, settle, vendor_json

FORM_PATH = f"/order/checkout-forms/{FORM_ID}"
STATS = "/order/event-stats"
OK_STATS = vendor_json(200, {"latestEvent": {"id": "42", "occurredAt": "2026-03-14T10:00:00Z"}})


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "IllegalArgumentException", "Illegal parameter value"),
        (403, "AccessDenied", "Access is denied"),
        (406, "NotAcceptableException", "Not acceptable representation requested"),
        (422, "VALIDATION_ERROR", "limit out of range"),
    ],
)
async def test_other_4xx_are_rejections_with_allegros_code_and_message(
    status: int, code: str, message: str
) -> None:
    h = make_harness()
    h.fake.script(STATS, allegro_error(status, code, message))

    with pytest.raises(AllegroRejected) as caught:
        await h.client.journal.latest_event_id()

    assert caught.value.status_code == status
    assert f"HTTP {status}" in str(caught.value)
    assert code in str(caught.value)
    assert message in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)
    assert len(h.fake.api_requests) == 1  # a rejection is not retried


async def test_a_rejection_with_an_auth_error_body() -> None:
    h = make_harness()
    h.fake.script(STATS, vendor_json(403, {"error": "access_denied", "error_description": "no"}))

    with pytest.raises(AllegroRejected, match="access_denied: no"):
        await h.client.journal.latest_event_id()


async def test_a_rejection_with_a_non_json_body_is_described_not_a_crash() -> None:
    h = make_harness()
    h.fake.script(
        STATS, httpx.Response(406, text="<h1>406</h1>", headers={"content-type": "text/html"})
    )

    with pytest.raises(AllegroRejected, match=r"not JSON, content-type 'text/html'"):
        await h.client.journal.latest_event_id()


async def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    h = make_harness()
    h.fake.script(
        STATS,
        allegro_error(503, "SERVICE_UNAVAILABLE", "Service unavailable."),
        allegro_error(504, "ServiceTimeoutException", "Query response time exceeded."),
        OK_STATS,
    )

    assert await h.client.journal.latest_event_id() == "42"
    assert h.time.sleeps == [1.0, 2.0]
    assert [s for _, s, _ in h.observer.requests] == [503, 504, 200]


async def test_5xx_until_max_attempts_is_unavailable_chained_to_the_status() -> None:
    h = make_harness(max_attempts=4)
    h.fake.script(STATS, allegro_error(500, "ERROR", "boom"))

    with pytest.raises(AllegroUnavailable, match="HTTP 500") as caught:
        await h.client.journal.latest_event_id()

    assert len(h.fake.api_requests) == 4
    assert h.time.sleeps == [1.0, 2.0, 4.0]
    assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)


async def test_backoff_is_capped() -> None:
    h = make_harness(max_attempts=8, backoff_initial=2.0, backoff_max=10.0)
    h.fake.script(STATS, allegro_error(502, "ERROR", "bad gateway"))

    with pytest.raises(AllegroUnavailable):
        await h.client.journal.latest_event_id()

    assert h.time.sleeps == [2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]


async def test_backoff_uses_full_jitter() -> None:
    h = make_harness(jitter=lambda ceiling: ceiling * 0.25)
    h.fake.script(
        STATS, allegro_error(500, "ERROR", "x"), allegro_error(500, "ERROR", "x"), OK_STATS
    )

    await h.client.journal.latest_event_id()

    assert h.time.sleeps == [0.25, 0.5]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "network_error"),
        (httpx.RemoteProtocolError("peer closed"), "network_error"),
    ],
)
async def test_timeouts_and_connection_errors_are_retried(error: Exception, kind: str) -> None:
    h = make_harness()
    h.fake.script(STATS, error, OK_STATS)

    assert await h.client.journal.latest_event_id() == "42"
    assert [s for _, s, _ in h.observer.requests] == [kind, 200]
    assert h.time.sleeps == [1.0]


async def test_persistent_timeouts_are_unavailable_chained_to_the_timeout() -> None:
    h = make_harness(max_attempts=3)
    h.fake.script(
        STATS, httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow"), httpx.ReadTimeout("x")
    )

    with pytest.raises(AllegroUnavailable, match="timed out") as caught:
        await h.client.journal.latest_event_id()

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(h.fake.api_requests) == 3


async def test_a_non_retryable_transport_error_is_unavailable_at_once() -> None:
    h = make_harness()
    h.fake.script(STATS, httpx.UnsupportedProtocol("nope"))

    with pytest.raises(AllegroUnavailable, match="UnsupportedProtocol"):
        await h.client.journal.latest_event_id()

    assert len(h.fake.api_requests) == 1


async def test_429_without_retry_after_waits_out_the_one_minute_block() -> None:
    h = make_harness()
    h.fake.script(STATS, allegro_error(429, "TooManyRequests", "slow down"), OK_STATS)
    start = h.time.monotonic()

    assert await h.client.journal.latest_event_id() == "42"

    assert h.time.monotonic() - start == pytest.approx(60.0)
    assert h.observer.waits == pytest.approx([60.0])


async def test_429_block_length_is_configurable() -> None:
    h = make_harness(rate_limit_block_seconds=5.0)
    h.fake.script(STATS, allegro_error(429, "TooManyRequests", "slow down"), OK_STATS)
    start = h.time.monotonic()

    await h.client.journal.latest_event_id()

    assert h.time.monotonic() - start == pytest.approx(5.0)


async def test_429_honours_retry_after_in_seconds() -> None:
    h = make_harness()
    limited = vendor_json(429, {"errors": []}, headers={"Retry-After": "7"})
    h.fake.script(STATS, limited, OK_STATS)
    start = h.time.monotonic()

    await h.client.journal.latest_event_id()

    assert h.time.monotonic() - start == pytest.approx(7.0)


async def test_429_honours_retry_after_as_an_http_date() -> None:
    h = make_harness()  # the fake wall clock starts at 2026-03-14 09:00:00 UTC
    limited = vendor_json(429, {}, headers={"Retry-After": "Sat, 14 Mar 2026 09:00:12 GMT"})
    h.fake.script(STATS, limited, OK_STATS)
    start = h.time.monotonic()

    await h.client.journal.latest_event_id()

    assert h.time.monotonic() - start == pytest.approx(12.0)


@pytest.mark.parametrize(
    ("config", "cap"), [({}, 300.0), ({"retry_after_max_seconds": 90.0}, 90.0)]
)
async def test_a_huge_retry_after_is_capped_and_the_cap_is_logged_once(
    caplog: pytest.LogCaptureFixture, config: dict[str, Any], cap: float
) -> None:
    h = make_harness(**config)
    limited = vendor_json(429, {"errors": []}, headers={"Retry-After": "1e9"})
    h.fake.script(STATS, limited, OK_STATS)
    start = h.time.monotonic()

    with caplog.at_level(logging.WARNING, logger="adapters.allegro"):
        assert await h.client.journal.latest_event_id() == "42"

    assert h.time.monotonic() - start == pytest.approx(cap)
    (capped,) = [r for r in caplog.records if "exceeds the cap" in r.getMessage()]
    assert (capped.retry_after_seconds, capped.cap_seconds) == (1e9, cap)  # type: ignore[attr-defined]
    assert capped.endpoint == STATS  # type: ignore[attr-defined]


async def test_a_retry_after_within_the_cap_is_not_logged_as_capped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = make_harness(retry_after_max_seconds=90.0)
    limited = vendor_json(429, {"errors": []}, headers={"Retry-After": "90"})
    h.fake.script(STATS, limited, OK_STATS)
    start = h.time.monotonic()

    with caplog.at_level(logging.WARNING, logger="adapters.allegro"):
        await h.client.journal.latest_event_id()

    assert h.time.monotonic() - start == pytest.approx(90.0)
    assert not [r for r in caplog.records if "exceeds the cap" in r.getMessage()]


@pytest.mark.parametrize("skew_hours", [-3, 3])
async def test_429_http_date_is_judged_by_the_responses_date_header(skew_hours: int) -> None:
    h = make_harness()  # the fake wall clock reads 2026-03-14 09:00:00 UTC
    server_now = h.time.now() + timedelta(hours=skew_hours)  # Allegro's clock, hours apart
    limited = vendor_json(
        429,
        {},
        headers={
            "Date": format_datetime(server_now, usegmt=True),
            "Retry-After": format_datetime(server_now + timedelta(seconds=60), usegmt=True),
        },
    )
    h.fake.script(STATS, limited, OK_STATS)
    start = h.time.monotonic()

    await h.client.journal.latest_event_id()

    assert h.time.monotonic() - start == pytest.approx(60.0)


async def test_while_blocked_every_request_of_the_client_waits() -> None:
    time = ManualTime()
    h = make_harness(time=time)
    h.fake.script(STATS, allegro_error(429, "TooManyRequests", "x"), OK_STATS)
    h.fake.script(FORM_PATH, vendor_json(200, make_checkout_form()))
    stats = asyncio.create_task(h.client.journal.latest_event_id())
    await settle()  # the 429 is in, the block has started
    form = asyncio.create_task(h.client.forms.get(FORM_ID))
    await settle()

    await time.advance_and_settle(59.9)
    assert [r.url.path for r in h.fake.api_requests] == [STATS]  # everyone is still waiting

    await time.advance_and_settle(0.1)
    assert await stats == "42"
    assert (await form).id == FORM_ID
    assert sorted(r.url.path for r in h.fake.api_requests) == sorted([STATS, STATS, FORM_PATH])


async def test_429_until_max_attempts_is_unavailable() -> None:
    h = make_harness(max_attempts=2, rate_limit_block_seconds=1.0)
    h.fake.script(STATS, allegro_error(429, "TooManyRequests", "x"))

    with pytest.raises(AllegroUnavailable, match="rate limited"):
        await h.client.journal.latest_event_id()

    assert len(h.fake.api_requests) == 2


async def test_every_attempt_and_every_wait_reaches_the_observer() -> None:
    h = make_harness(rate_limit_burst=1, rate_limit_per_minute=60)
    h.fake.script(STATS, allegro_error(500, "ERROR", "x"), OK_STATS)

    await h.client.journal.latest_event_id()

    assert [(e, s) for e, s, _ in h.observer.requests] == [(STATS, 500), (STATS, 200)]
    # The retry slept 1 s of backoff, which also refilled the single token: no bucket wait.
    assert h.observer.waits == []
    await h.client.journal.latest_event_id()
    assert h.observer.waits == pytest.approx([1.0])
