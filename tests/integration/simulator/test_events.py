"""The order event journal: paging, filters, limits, retention, holes and event-stats."""

from __future__ import annotations

import pytest

from tests.integration.simulator.conftest import Sim, SimFactory

pytestmark = pytest.mark.integration


def _ids(response_json: dict[str, list[dict[str, str]]]) -> list[str]:
    return [event["id"] for event in response_json["events"]]


def _paid_orders(sim: Sim, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        order_id = sim.state.place_order()
        sim.state.pay(order_id)
        ids.append(order_id)
    return ids


def test_paging_with_from_walks_the_whole_journal_in_order(sim: Sim) -> None:
    _paid_orders(sim, 10)  # 20 events
    expected = [event["id"] for event in sim.state.journal()]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 7} | ({"from": cursor} if cursor else {})
        page = _ids(sim.get("/order/events", **params).json())
        if not page:
            break
        seen += page
        cursor = page[-1]

    assert seen == expected
    assert [int(i) for i in seen] == sorted({int(i) for i in seen})
    assert all(len(i) == 16 for i in seen)


def test_from_is_exclusive_and_the_newest_id_gives_an_empty_page(sim: Sim) -> None:
    _paid_orders(sim, 2)
    journal = sim.state.journal()

    after_first = _ids(sim.get("/order/events", **{"from": journal[0]["id"]}).json())
    after_last = sim.get("/order/events", **{"from": journal[-1]["id"]}).json()

    assert after_first == [e["id"] for e in journal[1:]]
    assert after_last == {"events": []}


def test_without_from_the_oldest_events_come_first(sim: Sim) -> None:
    _paid_orders(sim, 3)

    page = _ids(sim.get("/order/events", limit=2).json())

    assert page == [e["id"] for e in sim.state.journal()[:2]]


def test_default_limit_is_100(sim: Sim) -> None:
    _paid_orders(sim, 60)

    assert len(sim.get("/order/events").json()["events"]) == 100


def test_type_filter_takes_repeated_keys(sim: Sim) -> None:
    paid = _paid_orders(sim, 3)
    cancelled = sim.state.place_order()
    sim.state.auto_cancel(cancelled)

    response = sim.http.get(
        "/order/events",
        params=[("type", "READY_FOR_PROCESSING"), ("type", "AUTO_CANCELLED")],
        headers=sim.headers,
    )

    events = response.json()["events"]
    assert [e["type"] for e in events] == ["READY_FOR_PROCESSING"] * 3 + ["AUTO_CANCELLED"]
    assert [e["order"]["checkoutForm"]["id"] for e in events] == [*paid, cancelled]


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten"])
def test_a_limit_outside_1_to_1000_is_a_422(sim: Sim, limit: str) -> None:
    response = sim.get("/order/events", limit=limit)

    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "limit"


def test_limits_1_and_1000_are_accepted(sim: Sim) -> None:
    assert sim.get("/order/events", limit=1).status_code == 200
    assert sim.get("/order/events", limit=1000).status_code == 200


def test_an_unknown_event_type_filter_is_a_422(sim: Sim) -> None:
    assert sim.get("/order/events", type="BUYER_MODIFIED").status_code == 422
    assert sim.get("/order/events", type="PAID").status_code == 422


def test_events_carry_the_order_snapshot(sim: Sim) -> None:
    order_id = sim.state.place_order(marketplace="allegro-cz", guest=False)
    form = sim.state.checkout_form(order_id)

    event = sim.get("/order/events").json()["events"][0]

    assert event["type"] == "BOUGHT"
    assert event["occurredAt"].endswith("Z")
    order = event["order"]
    assert order["checkoutForm"] == {"id": order_id, "revision": form["revision"]}
    assert order["marketplace"] == {"id": "allegro-cz"}
    assert order["seller"] == {"id": sim.state.config.seller_id}
    assert order["buyer"]["login"] == form["buyer"]["login"]
    assert order["buyer"]["preferences"] == {"language": "cs-CZ"}
    assert [i["id"] for i in order["lineItems"]] == [i["id"] for i in form["lineItems"]]
    assert "productSet" not in order["lineItems"][0]["offer"]


def test_each_event_keeps_the_revision_it_was_emitted_with(sim: Sim) -> None:
    order_id = sim.state.place_order()
    bought_revision = sim.state.revision_of(order_id)
    sim.state.pay(order_id)

    events = sim.get("/order/events").json()["events"]

    assert events[0]["order"]["checkoutForm"]["revision"] == bought_revision
    assert events[1]["order"]["checkoutForm"]["revision"] == sim.state.revision_of(order_id)


def test_event_stats_without_events_omits_latest_event(sim: Sim) -> None:
    response = sim.get("/order/event-stats")

    assert response.status_code == 200
    assert response.json() == {}


def test_event_stats_points_at_the_newest_event(sim: Sim) -> None:
    _paid_orders(sim, 2)
    newest = sim.state.journal()[-1]

    stats = sim.get("/order/event-stats").json()

    assert stats == {"latestEvent": {"id": newest["id"], "occurredAt": newest["occurredAt"]}}


def test_expired_events_are_gone_and_from_an_old_id_starts_at_the_oldest(sim: Sim) -> None:
    _paid_orders(sim, 3)
    journal = sim.state.journal()
    sim.state.expire_journal_before(journal[2]["id"])

    from_the_start = _ids(sim.get("/order/events").json())
    from_an_expired_id = _ids(sim.get("/order/events", **{"from": journal[0]["id"]}).json())

    assert from_the_start == [e["id"] for e in journal[2:]]
    assert from_an_expired_id == from_the_start


def test_sixty_days_of_retention(make_sim: SimFactory) -> None:
    sim = make_sim(access_token_ttl=90 * 86400)
    _paid_orders(sim, 1)
    sim.clock.advance(59 * 86400)
    assert len(sim.get("/order/events").json()["events"]) == 2

    sim.clock.advance(2 * 86400)

    assert sim.get("/order/events").json() == {"events": []}
    assert sim.get("/order/event-stats").json() == {}


def test_a_dropped_event_leaves_a_hole(sim: Sim) -> None:
    _paid_orders(sim, 2)
    journal = sim.state.journal()
    sim.state.drop_journal_events([journal[1]["id"]])

    seen = _ids(sim.get("/order/events").json())

    assert seen == [journal[0]["id"], journal[2]["id"], journal[3]["id"]]


def test_a_duplicate_event_repeats_the_current_snapshot(sim: Sim) -> None:
    (order_id,) = _paid_orders(sim, 1)

    sim.state.duplicate_event(order_id, "READY_FOR_PROCESSING")

    events = sim.get("/order/events", type="READY_FOR_PROCESSING").json()["events"]
    assert len(events) == 2
    assert events[0]["id"] != events[1]["id"]
    assert events[0]["order"] == events[1]["order"]
