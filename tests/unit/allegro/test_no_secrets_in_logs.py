"""Tokens, the client secret and buyer personal data never reach the logs."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from application.ports.errors import AllegroAuthError, MalformedCheckoutForm
from application.ports.state import TokenPair

from .builders import FORM_ID, make_checkout_form
from .fakes import (
    CLIENT_SECRET,
    FakeTime,
    MemoryTokenStore,
    allegro_error,
    make_harness,
    vendor_json,
)

FORM_PATH = f"/order/checkout-forms/{FORM_ID}"
BUYER_DATA = [
    "k7qhd2mzpa+4c1e9b07@allegromail.pl",
    "Aleksandra",
    "Wiśniewska",
    "+48601234567",
    "Ogrodowa",
    "30-001",
]
TOKENS = ["access-0", "access-1", "refresh-0", "refresh-1", "access-2", "refresh-2"]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Messages, arguments and every structured field of every record."""
    return "\n".join(
        f"{record.getMessage()} {record.exc_text or ''} {record.__dict__!r}"
        for record in caplog.records
    )


async def test_a_busy_session_logs_no_secret_and_no_buyer_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    time = FakeTime()
    store = MemoryTokenStore({"default": TokenPair("access-0", "refresh-0", time.now())})
    h = make_harness(time=time, store=store, initial_refresh_token="seed-token")
    h.fake.script(
        FORM_PATH,
        allegro_error(503, "SERVICE_UNAVAILABLE", "x"),
        allegro_error(429, "TooManyRequests", "x"),
        vendor_json(200, make_checkout_form()),
    )

    await h.client.forms.get(FORM_ID)  # refresh, 503 retry, 429 block
    h.fake.access_token = "revoked"
    await h.client.forms.get(FORM_ID)  # 401, refresh, retry
    bad = make_checkout_form(summary={"totalToPay": {"amount": "x", "currency": "PLN"}})
    h.fake.script("/order/checkout-forms/bad", vendor_json(200, bad))
    with pytest.raises(MalformedCheckoutForm) as malformed:
        await h.client.forms.get("bad")
    h.fake.token_replies.append(
        httpx.Response(400, json={"error": "invalid_grant", "error_description": "refresh-2"})
    )
    time.advance(timedelta(hours=12).total_seconds())
    with pytest.raises(AllegroAuthError) as auth_error:
        await h.client.forms.get(FORM_ID)
    await h.client.aclose()

    logged = everything_logged(caplog)
    assert caplog.records  # something was logged, so the check below means something
    for secret in [CLIENT_SECRET, "seed-token", *TOKENS, *BUYER_DATA]:
        assert secret not in logged, secret
    assert not any(s in str(auth_error.value) for s in TOKENS)
    assert not any(s in malformed.value.unreadable.reason for s in BUYER_DATA)


async def test_refreshes_and_retries_are_logged_with_structured_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.allegro")
    time = FakeTime()
    store = MemoryTokenStore({"default": TokenPair("access-0", "refresh-0", time.now())})
    h = make_harness(time=time, store=store)
    h.fake.script(
        FORM_PATH, allegro_error(500, "ERROR", "x"), vendor_json(200, make_checkout_form())
    )

    await h.client.forms.get(FORM_ID)

    refreshed = next(r for r in caplog.records if r.getMessage() == "allegro tokens refreshed")
    retried = next(r for r in caplog.records if "retrying" in r.getMessage())
    assert refreshed.__dict__["account"] == "default"
    assert (retried.__dict__["endpoint"], retried.__dict__["status"]) == (
        "/order/checkout-forms/{id}",
        500,
    )
