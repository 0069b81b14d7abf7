"""The pure parts behind the simulator's write-back endpoints (no HTTP): the per-second
cap, scope narrowing, lineItemsSent from covered lines, the lost-write fault decision and
the shipment book's waybill limit."""

from __future__ import annotations

import random

import pytest

from sandbox.allegro import FaultPlan
from sandbox.allegro.faults import decide_lost_write
from sandbox.allegro.ratelimit import PerSecondLimiter
from sandbox.allegro.shipments import (
    ShipmentBook,
    ShipmentRejected,
    line_items_sent,
    parse_request,
)
from sandbox.allegro.tokens import SCOPES, narrow_scopes


def test_the_per_second_cap_slides_and_keys_are_independent() -> None:
    limiter = PerSecondLimiter(2)

    first = [limiter.admit("a", 10.0), limiter.admit("a", 10.5), limiter.admit("a", 10.9)]
    other_key = limiter.admit("b", 10.9)
    after_first_left = limiter.admit("a", 11.0)  # the hit at 10.0 has left the window
    still_full = limiter.admit("a", 11.2)

    assert first == [True, True, False]
    assert other_key is True
    assert after_first_left is True
    assert still_full is False


def test_scopes_are_all_when_none_asked_and_capped_at_the_declared_set() -> None:
    assert narrow_scopes(None) == SCOPES
    assert narrow_scopes([]) == SCOPES
    assert narrow_scopes(["allegro:api:orders:read", "allegro:api:made-up"]) == (
        "allegro:api:orders:read",
    )


@pytest.mark.parametrize(
    ("current", "covered", "total", "expected"),
    [
        ("NONE", 0, 2, "NONE"),
        ("NONE", 1, 2, "SOME"),
        ("SOME", 2, 2, "ALL"),
        ("ALL", 1, 3, "ALL"),  # never goes back (SENT already set it)
        ("SOME", 0, 3, "SOME"),
    ],
)
def test_line_items_sent_by_covered_lines(
    current: str, covered: int, total: int, expected: str
) -> None:
    assert line_items_sent(current, covered, total) == expected


def test_lost_writes_come_from_the_queue_first_then_the_rate() -> None:
    plan = FaultPlan(lose_next_writes=2, lost_write_mode="drop")
    rng = random.Random(1)
    state = rng.getstate()

    queued = [decide_lost_write(plan, rng) for _ in range(3)]

    assert queued == ["drop", "drop", None]
    assert rng.getstate() == state  # a rate of 0 draws nothing from the fault RNG
    plan.lost_write_rate = 1.0
    assert decide_lost_write(plan, rng) == "drop"


@pytest.mark.parametrize(
    "change",
    [
        {"lost_write_mode": "explode"},
        {"lose_next_writes": -1},
        {"lose_next_writes": True},
        {"lost_write_rate": 1.5},
    ],
)
def test_lost_write_settings_are_validated(change: dict[str, object]) -> None:
    plan = FaultPlan()

    with pytest.raises(ValueError, match=next(iter(change))):
        plan.update(change)
    assert plan == FaultPlan()


def test_the_waybill_limit_counts_orders_not_shipments() -> None:
    book = ShipmentBook(seed=1, waybill_order_limit=2)
    request = parse_request({"carrierId": "DHL", "waybill": "JJD000"})

    for order_id in ("o1", "o1", "o2"):
        book.add(order_id, request, ["i1"], "2026-03-14T09:15:22.481Z")
    with pytest.raises(ShipmentRejected) as refused:
        book.add("o3", request, ["i1"], "2026-03-14T09:15:22.481Z")

    assert refused.value.status == 409
    assert len(book.of("o1")) == 2
    assert book.of("o3") == []
