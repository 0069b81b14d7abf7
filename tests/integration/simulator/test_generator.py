"""The seeded generator: reproducible, realistic, and the scripted lifecycles it drives."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from sandbox.allegro import ManualClock, SimulatorConfig, SimulatorState

pytestmark = pytest.mark.integration

_UUID_V1 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _state(seed: int = 42) -> SimulatorState:
    return SimulatorState(SimulatorConfig(seed=seed), clock=ManualClock())


def _forms(state: SimulatorState) -> list[dict[str, Any]]:
    return [state.checkout_form(oid) for oid in state.order_ids()]


def test_the_same_seed_gives_the_same_orders_and_journal() -> None:
    first, second = _state(), _state()

    first_ids = first.script_mixed_lifecycles(60, seed=3)
    second_ids = second.script_mixed_lifecycles(60, seed=3)

    assert first_ids == second_ids
    assert _forms(first) == _forms(second)
    assert first.journal() == second.journal()


def test_another_seed_gives_other_orders() -> None:
    first, second = _state(1), _state(2)

    first.place_order()
    second.place_order()

    assert _forms(first)[0]["buyer"] != _forms(second)[0]["buyer"]


def test_generated_values_have_allegros_formats() -> None:
    state = _state()
    state.script_mixed_lifecycles(200, seed=1)

    for form in _forms(state):
        assert _UUID_V1.match(form["id"])
        assert re.fullmatch(r"[0-9a-z]{10}\+[0-9a-f]{9}@allegromail\.pl", form["buyer"]["email"])
        assert form["buyer"]["guest"] == form["buyer"]["login"].startswith("Client:")
        assert form["updatedAt"].endswith("Z")
        assert 1 <= len(form["lineItems"]) <= 8  # merged orders carry two carts
        for item in form["lineItems"]:
            assert _UUID_V1.match(item["id"])
            assert re.fullmatch(r"\d{10,11}", item["offer"]["id"])
            assert item["quantity"] >= 1
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", item["boughtAt"])
        payment = form["payment"]
        if payment and payment["type"] == "CASH_ON_DELIVERY":
            assert payment["provider"] is None
            assert payment["paidAmount"] is None
        elif payment:
            assert payment["provider"] in {"P24", "PAYU"}


def test_company_invoices_carry_valid_tax_ids() -> None:
    state = _state()
    nips = []
    for marketplace in ("allegro-pl", "allegro-cz", "allegro-sk", "allegro-hu"):
        form = state.checkout_form(state.place_order(marketplace=marketplace, invoice=True))
        company = form["invoice"]["address"]["company"]
        assert company["vatPayerStatus"] == "ACTIVE"
        assert form["buyer"]["companyName"] == company["name"]
        nips += [i["value"] for i in company["ids"] if i["type"] == "PL_NIP"]

    (nip,) = nips
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    assert sum(w * int(d) for w, d in zip(weights, nip, strict=False)) % 11 == int(nip[-1])


def test_the_generator_mixes_what_an_integration_must_survive() -> None:
    state = _state()
    state.script_mixed_lifecycles(400, seed=9)
    forms = _forms(state)
    journal = state.journal()

    statuses = Counter(f["status"] for f in forms)
    fulfillment = Counter(f["fulfillment"]["status"] for f in forms)
    marketplaces = Counter(f["marketplace"]["id"] for f in forms)
    assert set(statuses) == {"BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "CANCELLED"}
    assert {"NEW", "PROCESSING", "SENT", "PICKED_UP", "SUSPENDED", "RETURNED"} <= set(fulfillment)
    assert set(marketplaces) == {"allegro-pl", "allegro-cz", "allegro-sk", "allegro-hu"}
    assert any(f["payment"] and f["payment"]["type"] == "CASH_ON_DELIVERY" for f in forms)
    assert any(f["surcharges"] for f in forms)
    assert any(f["buyer"]["guest"] for f in forms)
    assert any(f["delivery"]["pickupPoint"] for f in forms)
    assert any(f["invoice"]["required"] for f in forms)
    assert {e["type"] for e in journal} >= {
        "BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "BUYER_CANCELLED", "AUTO_CANCELLED",
        "FULFILLMENT_STATUS_CHANGED",
    }  # fmt: skip
    assert _has_filled_in_before_bought(journal)
    assert _has_duplicate_ready(journal)
    assert state.merged_into  # some purchases were paid together


def _first_types(journal: list[dict[str, Any]]) -> dict[str, list[str]]:
    by_order: dict[str, list[str]] = {}
    for event in journal:
        by_order.setdefault(event["order"]["checkoutForm"]["id"], []).append(event["type"])
    return by_order


def _has_filled_in_before_bought(journal: list[dict[str, Any]]) -> bool:
    return any(types[:2] == ["FILLED_IN", "BOUGHT"] for types in _first_types(journal).values())


def _has_duplicate_ready(journal: list[dict[str, Any]]) -> bool:
    return any(t.count("READY_FOR_PROCESSING") > 1 for t in _first_types(journal).values())


def test_ever_reached_tells_a_late_payment_event_from_a_real_payment() -> None:
    state = _state()
    state.script_mixed_lifecycles(300, seed=4)
    by_order = _first_types(state.journal())

    late = [oid for oid, types in by_order.items() if _ready_after_cancel(types)]
    never_paid = [oid for oid, t in by_order.items() if "AUTO_CANCELLED" in t]

    assert late
    assert never_paid
    assert all(state.ever_reached(oid, "READY_FOR_PROCESSING") for oid in late)
    assert not any(state.ever_reached(oid, "READY_FOR_PROCESSING") for oid in never_paid)
    assert all(state.ever_reached(oid, "CANCELLED") for oid in never_paid)


def _ready_after_cancel(types: list[str]) -> bool:
    if "BUYER_CANCELLED" not in types:
        return False
    return "READY_FOR_PROCESSING" in types[types.index("BUYER_CANCELLED") :]


def test_script_returns_the_final_id_of_every_order() -> None:
    state = _state()

    ids = state.script_mixed_lifecycles(50, seed=2)

    assert len(ids) == 50
    assert len(set(ids)) == 50
    assert set(ids) <= set(state.order_ids())
