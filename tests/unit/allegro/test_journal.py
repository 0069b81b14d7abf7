"""`journal.fetch` and `journal.latest_event_id` over a fake Allegro."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from adapters.allegro import MalformedResponse
from application.ports.allegro import JournalEvent, OrderEventJournal

from .builders import FORM_ID, make_event
from .fakes import VENDOR, make_harness, vendor_json


async def test_fetch_sends_the_vendor_headers_and_the_cursor() -> None:
    h = make_harness()
    h.fake.script("/order/events", vendor_json(200, {"events": [make_event()]}))

    events = await h.client.journal.fetch("1773482525000000", 250)

    (request,) = h.fake.api_requests
    assert request.method == "GET"
    assert request.url.path == "/order/events"
    assert dict(request.url.params) == {"from": "1773482525000000", "limit": "250"}
    assert request.headers["Accept"] == VENDOR
    assert request.headers["Authorization"] == "Bearer access-0"
    assert request.headers["User-Agent"].startswith("openoms-allegro/")
    assert events == [
        JournalEvent(
            id="1773482525113317",
            type="READY_FOR_PROCESSING",
            occurred_at=datetime(2026, 3, 14, 10, 2, 5, 113000, tzinfo=UTC),
            checkout_form_id=FORM_ID,
            revision="7c20d5b1",
        )
    ]


async def test_fetch_without_a_cursor_omits_from() -> None:
    h = make_harness()
    h.fake.script("/order/events", vendor_json(200, {"events": []}))

    events = await h.client.journal.fetch(None, 100)

    assert list(events) == []
    assert dict(h.fake.api_requests[0].url.params) == {"limit": "100"}


async def test_events_keep_unknown_types_and_tolerate_a_missing_checkout_form() -> None:
    h = make_harness()
    odd = make_event("2", "SOMETHING_NEW", form_id=None)
    no_revision = make_event("3", "BUYER_MODIFIED", revision=None)
    h.fake.script("/order/events", vendor_json(200, {"events": [odd, no_revision]}))

    first, second = await h.client.journal.fetch("1", 10)

    assert (first.type, first.checkout_form_id, first.revision) == ("SOMETHING_NEW", None, None)
    assert (second.checkout_form_id, second.revision) == (FORM_ID, None)


@pytest.mark.parametrize("limit", [0, 1001, -5])
async def test_fetch_rejects_a_limit_allegro_would_refuse(limit: int) -> None:
    h = make_harness()

    with pytest.raises(ValueError, match="limit"):
        await h.client.journal.fetch(None, limit)
    assert h.fake.requests == []


@pytest.mark.parametrize("limit", [1, 1000])
async def test_fetch_accepts_the_limit_bounds(limit: int) -> None:
    h = make_harness()
    h.fake.script("/order/events", vendor_json(200, {"events": []}))

    await h.client.journal.fetch(None, limit)

    assert h.fake.api_requests[0].url.params["limit"] == str(limit)


async def test_a_journal_body_of_the_wrong_shape_is_a_clear_error() -> None:
    h = make_harness()
    h.fake.script("/order/events", vendor_json(200, {"events": [{"id": "1"}]}))

    with pytest.raises(MalformedResponse, match="/order/events: unexpected body"):
        await h.client.journal.fetch(None, 10)


async def test_a_journal_body_that_is_not_json_is_a_clear_error() -> None:
    h = make_harness()
    h.fake.script("/order/events", httpx.Response(200, text="<html>maintenance</html>"))

    with pytest.raises(MalformedResponse, match="not JSON"):
        await h.client.journal.fetch(None, 10)


async def test_latest_event_id() -> None:
    h = make_harness()
    stats = {"latestEvent": {"id": "1773482525113317", "occurredAt": "2026-03-14T10:02:05Z"}}
    h.fake.script("/order/event-stats", vendor_json(200, stats))

    assert await h.client.journal.latest_event_id() == "1773482525113317"
    assert h.fake.api_requests[0].headers["Accept"] == VENDOR


@pytest.mark.parametrize("body", [{}, {"latestEvent": None}])
async def test_latest_event_id_is_none_without_events(body: dict[str, object]) -> None:
    h = make_harness()
    h.fake.script("/order/event-stats", vendor_json(200, body))

    assert await h.client.journal.latest_event_id() is None


def test_the_journal_implements_the_port_explicitly() -> None:
    h = make_harness()

    assert OrderEventJournal in type(h.client.journal).__mro__
