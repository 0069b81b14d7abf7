"""Journal events carry the order's purchase time (latest `lineItems[].boughtAt`): where bulk
reads look for the form. An unreadable one costs a single read, never the journal page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.allegro import AllegroClientConfig, build_allegro_client
from adapters.allegro.translate import journal_event
from adapters.allegro.wire import EVENTS_PAGE, OrderEventWire
from adapters.persistence import MemoryTokenStore
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState

pytestmark = pytest.mark.integration

FORM_ID = "29738e61-7f6a-11e8-ac45-09db60ede9d6"  # checkout form ids are UUIDs


def event_with(line_items: Any) -> OrderEventWire:
    event = {
        "id": "1773479722481317",
        "type": "READY_FOR_PROCESSING",
        "occurredAt": "2026-03-14T09:15:22.481Z",
        "order": {"lineItems": line_items, "checkoutForm": {"id": FORM_ID, "revision": "r"}},
    }
    return EVENTS_PAGE.validate_json(json.dumps({"events": [event]}))["events"][0]


@pytest.mark.parametrize(
    ("line_items", "expected"),
    [
        (
            [{"boughtAt": "2026-03-14T09:12:40.118Z"}, {"boughtAt": "2026-03-14T09:13:01Z"}],
            datetime(2026, 3, 14, 9, 13, 1, tzinfo=UTC),
        ),
        ([{"boughtAt": "2026-03-14T10:12:40+01:00"}], datetime(2026, 3, 14, 9, 12, 40, tzinfo=UTC)),
        ([{"boughtAt": "2026-03-14T09:12:40"}], datetime(2026, 3, 14, 9, 12, 40, tzinfo=UTC)),
        ([{"id": "no time"}], None),
        ([{"boughtAt": "2026-03-14T09:12:40Z"}, {"boughtAt": "yesterday"}], None),
        ([{"boughtAt": 1773479560}], None),
        ("not a list", None),
        (None, None),
    ],
)
def test_the_latest_purchase_time_or_none(line_items, expected):
    event = journal_event(event_with(line_items))

    assert event.bought_at == expected
    assert (event.checkout_form_id, event.revision) == (FORM_ID, "r")


async def test_events_read_from_the_simulator_carry_each_forms_purchase_time():
    state = SimulatorState(SimulatorConfig(seed=3))
    state.script_mixed_lifecycles(40, seed=3)
    with SimulatorServer(state) as server:
        config = AllegroClientConfig(
            api_url=server.url,
            auth_url=server.oauth_url,
            client_id=state.config.client_id,
            client_secret=state.config.client_secret,
            initial_refresh_token=state.initial_refresh_token,
        )
        async with build_allegro_client(config, MemoryTokenStore()) as client:
            events = await client.journal.fetch(None, 1000)

    checked = 0
    for event in events:
        form = state.find_form(event.checkout_form_id or "")
        if form is None:
            continue  # merged away
        latest = max(item["boughtAt"] for item in form["lineItems"])
        assert event.bought_at == datetime.fromisoformat(latest)
        checked += 1
    assert checked > 100
