"""The simulator's fast encoding of journal and checkout-form pages (a benchmark fix) gives
exactly the bytes a plain `json.dumps` of the same body gives."""

from __future__ import annotations

import json

from sandbox.allegro import SimulatorConfig, SimulatorState
from sandbox.allegro.encoding import EncodingCache
from sandbox.allegro.orderstore import ListQuery
from sandbox.allegro.responses import encode


def scripted() -> SimulatorState:
    state = SimulatorState(SimulatorConfig(seed=31))
    state.script_mixed_lifecycles(120, seed=31)  # Polish, Czech, Hungarian names: non-ASCII
    return state


def test_journal_pages_encode_as_plain_json():
    state = scripted()
    cache = EncodingCache(limit=10)  # evictions on the way
    events = state.events_page(None, None, 1000)

    assert cache.events_page(events) == encode({"events": events})
    assert cache.events_page(events) == encode({"events": events})  # from the cache
    assert any(ord(char) > 127 for char in cache.events_page(events).decode())


def test_checkout_form_pages_encode_as_plain_json():
    state = scripted()
    cache = EncodingCache(limit=10)
    forms, total = state.list_forms(ListQuery(limit=100))

    page = cache.forms_page(forms, total)

    assert page == encode({"checkoutForms": forms, "count": len(forms), "totalCount": total})
    assert [cache.text(form) for form in forms] == [encode(form).decode() for form in forms]


def test_a_changed_form_is_encoded_again():
    state = scripted()
    cache = EncodingCache()
    order_id = next(
        oid
        for oid in state.order_ids()
        if state.checkout_form(oid)["fulfillment"]["status"] != "SUSPENDED"
    )
    before = cache.text(state.find_form(order_id))

    state.set_fulfillment(order_id, "SUSPENDED")
    after = cache.text(state.find_form(order_id))

    assert json.loads(before)["fulfillment"]["status"] != "SUSPENDED"
    assert json.loads(after)["fulfillment"]["status"] == "SUSPENDED"


def test_an_event_of_another_shape_is_encoded_plainly():
    odd = {"id": "1", "type": "BOUGHT", "occurredAt": "2026-03-14T09:15:22.481Z", "extra": [1]}

    assert EncodingCache().events_page([odd]) == encode({"events": [odd]})
