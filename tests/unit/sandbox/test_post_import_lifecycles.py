"""The simulator's scripted and live activity include what happens after an import, and
the list indexes follow every change of the ids they are keyed on (in process, no HTTP)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from sandbox.allegro import ManualClock, SimulatorConfig, SimulatorState, start_live_activity
from sandbox.allegro.orderstore import ListQuery


def _state(seed: int = 42) -> SimulatorState:
    return SimulatorState(SimulatorConfig(seed=seed), clock=ManualClock())


def _forms(state: SimulatorState) -> list[dict[str, Any]]:
    return [state.checkout_form(oid) for oid in state.order_ids()]


def _types_by_order(state: SimulatorState) -> dict[str, list[str]]:
    by_order: dict[str, list[str]] = {}
    for event in state.journal():
        by_order.setdefault(event["order"]["checkoutForm"]["id"], []).append(event["type"])
    return by_order


def test_the_post_import_script_mixes_in_what_happens_after_payment() -> None:
    state = _state()
    state.script_mixed_lifecycles(400, seed=14, post_import=True)
    forms = _forms(state)
    types = _types_by_order(state)

    modified = [f for f in forms if "BUYER_MODIFIED" in types[f["id"]]]
    allegro = [f for f in forms if f["fulfillment"]["provider"]["id"] == "ALLEGRO"]
    extended = [f for f in forms if f["payment"] and f["payment"]["type"] == "EXTENDED_TERM"]
    assert modified
    assert any(f["delivery"]["address"]["modifiedAt"] for f in modified)
    assert all(f["status"] == "READY_FOR_PROCESSING" for f in modified)
    assert allegro
    assert extended
    for form in extended:
        assert form["payment"]["provider"] == "EPT"
        assert form["invoice"]["dueDate"]
        assert types[form["id"]].count("READY_FOR_PROCESSING") == 2
        assert form["payment"]["paidAmount"] == form["summary"]["totalToPay"]
    assert any(f["surcharges"] for f in forms)


def test_line_items_sent_agrees_with_the_fulfillment_status() -> None:
    state = _state()
    state.script_mixed_lifecycles(300, seed=6, post_import=True)
    forms = _forms(state)

    pairs = Counter(
        (f["fulfillment"]["status"], f["fulfillment"]["shipmentSummary"]["lineItemsSent"])
        for f in forms
    )

    for (status, sent), _count in pairs.items():
        if status in ("SENT", "PICKED_UP"):
            assert sent == "ALL", (status, sent)
        if status == "NEW":
            assert sent == "NONE", (status, sent)
    assert ("SENT", "ALL") in pairs


def test_generated_forms_carry_line_item_tax_and_a_dispatch_window() -> None:
    state = _state()
    state.script_mixed_lifecycles(150, seed=2, post_import=True)

    for form in _forms(state):
        dispatch = form["delivery"]["time"]["dispatch"]
        assert dispatch["from"] < dispatch["to"]
        for item in form["lineItems"]:
            assert set(item["tax"]) == {"rate", "subject", "exemption"}
            assert item["tax"]["subject"] == "GOODS"


def test_live_activity_shows_buyer_changes_arriving() -> None:
    state = SimulatorState(SimulatorConfig(seed=3))
    stop = threading.Event()
    thread = start_live_activity(state, 0.005, stop, seed=5, new_orders_per_tick=(1, 3))
    try:
        deadline = time.monotonic() + 20
        seen: set[str] = set()
        while time.monotonic() < deadline and "BUYER_MODIFIED" not in seen:
            time.sleep(0.05)
            seen = {e["type"] for e in state.journal()}
    finally:
        stop.set()
        thread.join(5)

    assert "BUYER_MODIFIED" in seen
    assert not thread.is_alive()


def _ids(state: SimulatorState, **filters: Any) -> set[str]:
    forms, total = state.list_forms(ListQuery(**filters))
    assert total == len(forms)
    return {f["id"] for f in forms}


def test_payment_and_surcharge_indexes_follow_merges_and_top_ups() -> None:
    state = _state()
    for _ in range(3):  # other orders, so a lookup by id is narrower than the whole index
        state.pay(state.place_order(payment="ONLINE"))
    first, second = state.place_order(payment="ONLINE"), state.place_order(payment="ONLINE")
    state.fill_in(first)
    state.fill_in(second)
    old_payment = state.checkout_form(first)["payment"]["id"]
    merged = state.merge([first, second])
    state.pay(merged)
    surcharge = state.add_surcharge(merged)
    payment = state.checkout_form(merged)["payment"]["id"]
    method = state.checkout_form(merged)["delivery"]["method"]["id"]

    assert _ids(state, payment_id=old_payment) == set()  # the old form is gone
    assert _ids(state, payment_id=payment) == {merged}
    assert _ids(state, surcharge_id=surcharge) == {merged}
    assert merged in _ids(state, method_id=method)
    assert first not in _ids(state, method_id=method)
