"""The batch offer commands over real HTTP: registration (201, all-zero first report),
the reused command id (409), validation (FIXED 0 is 422), asynchronous tasks on the
simulated clock, failing tasks, END/ACTIVATE, the per-user limits and the PUT record."""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest

from tests.integration.simulator.conftest import Sim, SimFactory
from tests.integration.simulator.offer_support import (
    add,
    criteria,
    offer,
    price,
    publication,
    put,
    quantity,
    report,
    run,
    tasks,
)

pytestmark = pytest.mark.integration


def test_the_first_report_is_all_zeros_then_the_tasks_complete(sim: Sim) -> None:
    a, b = add(sim, stock=5), add(sim, stock=6)
    command_id = str(uuid.uuid4())

    created = put(sim, "quantity", quantity(9, a, b), command_id)
    before = report(sim, "quantity", command_id).json()
    pending = tasks(sim, "quantity", command_id)
    sim.clock.advance(0.3)
    after = report(sim, "quantity", command_id).json()

    assert created.status_code == 201
    assert created.json() == {
        "id": command_id,
        "createdAt": created.json()["createdAt"],
        "completedAt": None,
        "taskCount": {"total": 0, "success": 0, "failed": 0},
    }
    assert before["taskCount"] == {"total": 0, "success": 0, "failed": 0}
    assert [t["status"] for t in pending] == ["NEW", "NEW"]
    assert offer(sim, a)["stock"]["available"] == 9
    assert after["taskCount"] == {"total": 2, "success": 2, "failed": 0}
    assert after["completedAt"] is not None
    assert [t["offer"]["id"] for t in tasks(sim, "quantity", command_id)] == [a, b]


def test_tasks_wait_for_the_configured_delay(make_sim: SimFactory) -> None:
    sim = make_sim(offer_command_delay_seconds=5.0)
    offer_id = add(sim, stock=5)
    command_id = str(uuid.uuid4())
    put(sim, "quantity", quantity(7, offer_id), command_id)

    sim.clock.advance(4.9)
    early = offer(sim, offer_id)["stock"]["available"]
    sim.clock.advance(0.1)

    assert early == 5
    assert offer(sim, offer_id)["stock"]["available"] == 7


def test_a_zero_delay_completes_on_the_next_request(make_sim: SimFactory) -> None:
    sim = make_sim(offer_command_delay_seconds=0)
    offer_id = add(sim, stock=5)
    command_id = str(uuid.uuid4())

    created = put(sim, "quantity", quantity(2, offer_id), command_id)

    assert created.json()["taskCount"]["total"] == 0
    assert report(sim, "quantity", command_id).json()["taskCount"]["success"] == 1


def test_a_reused_command_id_is_409_whatever_the_body(sim: Sim) -> None:
    offer_id = add(sim, stock=5)
    command_id = str(uuid.uuid4())
    put(sim, "quantity", quantity(3, offer_id), command_id)

    same = put(sim, "quantity", quantity(3, offer_id), command_id)
    other = put(sim, "quantity", quantity(4, offer_id), command_id)
    garbage = put(sim, "quantity", {"nonsense": True}, command_id)

    for response in (same, other, garbage):
        assert response.status_code == 409
        assert response.json()["errors"][0]["message"] == "command id was already used"
    sim.clock.advance(1)
    assert offer(sim, offer_id)["stock"]["available"] == 3


def test_the_put_record_tells_a_command_id_sent_with_different_content(sim: Sim) -> None:
    offer_id = add(sim, stock=5)
    command_id = str(uuid.uuid4())
    put(sim, "quantity", quantity(3, offer_id), command_id)
    put(sim, "quantity", quantity(3, offer_id), command_id)
    put(sim, "quantity", quantity(4, offer_id), command_id)

    puts = sim.http.get("/__sim/offer-commands").json()["puts"]
    digests: dict[str, set[str]] = defaultdict(set)
    for entry in puts:
        digests[entry["commandId"]].add(entry["digest"])

    assert [(p["status"], p["offers"], p["kind"]) for p in puts] == [
        (201, 1, "quantity"),
        (409, 1, "quantity"),
        (409, 1, "quantity"),
    ]
    assert len(digests[command_id]) == 2
    assert puts[0]["digest"] == puts[1]["digest"]


def test_fixed_zero_is_422_incorrect_quantity_value(sim: Sim) -> None:
    offer_id = add(sim, stock=5)

    response = put(sim, "quantity", quantity(0, offer_id))

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["code"] == "INCORRECT_QUANTITY_VALUE"
    assert error["path"] == "modification.value"
    assert sim.state.offer_command_puts()[0]["status"] == 422


def test_a_rejected_command_does_not_use_up_its_id(sim: Sim) -> None:
    offer_id = add(sim, stock=5)
    command_id = str(uuid.uuid4())

    rejected = put(sim, "quantity", quantity(0, offer_id), command_id)
    accepted = put(sim, "quantity", quantity(1, offer_id), command_id)

    assert (rejected.status_code, accepted.status_code) == (422, 201)


@pytest.mark.parametrize(
    ("command_id", "body", "status"),
    [
        ("not-a-uuid", quantity(1, "1"), 400),
        (None, {"modification": {"changeType": "SET", "value": 1}}, 422),
        (None, {"modification": {"changeType": "FIXED", "value": "1"}}, 422),
        (None, {"modification": {"changeType": "FIXED", "value": 1}}, 422),  # no criteria
        (
            None,
            {
                "modification": {"changeType": "FIXED", "value": 1},
                "offerCriteria": [
                    {"type": "CONTAINS_OFFERS", "offers": [{"id": str(n)} for n in range(1001)]}
                ],
            },
            422,
        ),
        (
            None,
            {
                "modification": {"changeType": "FIXED", "value": 1},
                "offerCriteria": [{"type": "ALL_OFFERS"}],
            },
            422,
        ),
        (None, ["not", "an", "object"], 400),
    ],
)
def test_malformed_commands_are_refused_with_allegros_error_body(
    sim: Sim, command_id: str | None, body: object, status: int
) -> None:
    response = put(sim, "quantity", body, command_id)

    assert response.status_code == status
    assert response.json()["errors"][0]["message"]


def test_a_body_that_is_not_json_is_400_and_plain_json_is_415(sim: Sim) -> None:
    url = f"/sale/offer-quantity-change-commands/{uuid.uuid4()}"
    content_type = {**sim.headers, "Content-Type": "application/vnd.allegro.public.v1+json"}

    broken = sim.http.put(url, content=b"{", headers=content_type)
    plain = sim.http.put(url, json=quantity(1, "1"), headers=sim.headers)

    assert broken.status_code == 400
    assert plain.status_code == 415


@pytest.mark.parametrize(
    "content",
    [b"[" * 100_000, b'{"modification": ' * 50_000, b"\xff\xfe", b"x" * (4 * 1024 * 1024 + 1)],
)
def test_hostile_bodies_get_a_clear_4xx(sim: Sim, content: bytes) -> None:
    response = sim.http.put(
        f"/sale/offer-quantity-change-commands/{uuid.uuid4()}",
        content=content,
        headers={**sim.headers, "Content-Type": "application/vnd.allegro.public.v1+json"},
    )

    assert response.status_code in (400, 413)
    assert response.json()["errors"][0]["code"]
    assert sim.get("/sale/offers").status_code == 200


def test_a_thousand_offers_in_one_criterion_are_accepted(sim: Sim) -> None:
    offer_ids = [str(10_000_000_000 + n) for n in range(1000)]

    response = put(sim, "quantity", quantity(1, *offer_ids))

    assert response.status_code == 201


def test_gain_adds_and_may_not_go_below_one(sim: Sim) -> None:
    a, b = add(sim, stock=5), add(sim, stock=2)

    up = run(sim, "quantity", quantity(3, a, change_type="GAIN"))
    down = run(sim, "quantity", quantity(-2, b, change_type="GAIN"))

    assert up[0]["status"] == "SUCCESS"
    assert offer(sim, a)["stock"]["available"] == 8
    assert down[0]["status"] == "FAIL"
    assert down[0]["errors"][0]["code"] == "INVALID_OFFER_QUANTITY"
    assert offer(sim, b)["stock"]["available"] == 2


def test_an_unknown_offer_fails_its_task_only(sim: Sim) -> None:
    known = add(sim, stock=5)

    result = run(sim, "quantity", quantity(4, known, "99999999999"))

    assert [t["status"] for t in result] == ["SUCCESS", "FAIL"]
    assert result[1]["message"] == "The offer does not exist."
    assert result[1]["errors"][0]["code"] == "NOT_FOUND"
    assert result[1]["field"] == "stock.available"


def test_some_tasks_fail_by_the_fault_plan_deterministically(make_sim: SimFactory) -> None:
    outcomes = []
    for _ in range(2):
        sim = make_sim()
        offer_ids = [add(sim, id=str(10_000_000_000 + n), stock=5) for n in range(40)]
        sim.http.post("/__sim/faults", json={"offer_task_failure_rate": 0.3})
        command_id = "6f1c2a52-8f3e-4d5c-9a53-3c9d1c2b7a10"
        put(sim, "quantity", quantity(9, *offer_ids), command_id)
        sim.clock.advance(1)
        summary = report(sim, "quantity", command_id).json()["taskCount"]
        failed = [t for t in tasks(sim, "quantity", command_id) if t["status"] == "FAIL"]
        outcomes.append(sorted(t["offer"]["id"] for t in failed))
        assert summary == {"total": 40, "success": 40 - len(failed), "failed": len(failed)}
        assert all(offer(sim, t["offer"]["id"])["stock"]["available"] == 5 for t in failed)
        assert failed[0]["message"]
        assert failed[0]["errors"][0]["code"]

    assert 0 < len(outcomes[0]) < 40
    assert outcomes[0] == outcomes[1]


def test_listed_offers_fail_every_task(sim: Sim) -> None:
    a, b = add(sim, stock=5), add(sim, stock=5)
    sim.state.faults.update({"failing_offer_ids": [b]})

    result = run(sim, "price", price("12.34", a, b))

    assert [t["status"] for t in result] == ["SUCCESS", "FAIL"]


def test_a_quantity_change_on_an_ended_offer_succeeds_and_it_stays_ended(sim: Sim) -> None:
    offer_id = add(sim, stock=5)
    sim.state.change_offer(offer_id, action="END")

    result = run(sim, "quantity", quantity(12, offer_id))

    body = offer(sim, offer_id)
    assert result[0]["status"] == "SUCCESS"
    assert body["stock"]["available"] == 12
    assert body["publication"]["status"] == "ENDED"


def test_end_then_activate(sim: Sim) -> None:
    offer_id = add(sim, stock=5)

    ended = run(sim, "publication", publication("END", offer_id))
    after_end = offer(sim, offer_id)["publication"]
    activated = run(sim, "publication", publication("ACTIVATE", offer_id))
    after_activate = offer(sim, offer_id)["publication"]

    assert ended[0]["status"] == activated[0]["status"] == "SUCCESS"
    assert after_end["status"] == "ENDED"
    assert after_end["endedBy"] == "USER"
    assert after_activate["status"] == "ACTIVE"
    assert after_activate["endedBy"] is None


def test_activate_fails_on_an_offer_without_stock(sim: Sim) -> None:
    offer_id = add(sim, stock=1)
    sim.state.sell_offer(offer_id, 1)

    result = run(sim, "publication", publication("ACTIVATE", offer_id))

    assert result[0]["status"] == "FAIL"
    assert offer(sim, offer_id)["publication"]["status"] == "ENDED"


def test_stock_back_then_activate_restores_the_offer(sim: Sim) -> None:
    offer_id = add(sim, stock=1)
    sim.state.sell_offer(offer_id, 1)

    run(sim, "quantity", quantity(4, offer_id))
    run(sim, "publication", publication("ACTIVATE", offer_id))

    body = offer(sim, offer_id)
    assert body["stock"]["available"] == 4
    assert body["publication"]["status"] == "ACTIVE"


def test_price_changes_per_marketplace(sim: Sim) -> None:
    offer_id = add(sim, price="10.00", marketplaces=["allegro-cz"])
    plain = add(sim, price="10.00")

    base = run(sim, "price", price("11.50", offer_id))
    cz = run(sim, "price", price("70", offer_id, plain, currency="CZK", marketplace="allegro-cz"))

    body = offer(sim, offer_id)
    assert base[0]["status"] == "SUCCESS"
    assert body["sellingMode"]["price"] == {"amount": "11.50", "currency": "PLN"}
    assert body["additionalMarketplaces"]["allegro-cz"]["sellingMode"]["price"] == {
        "amount": "70.00",
        "currency": "CZK",
    }
    assert [t["status"] for t in cz] == ["SUCCESS", "FAIL"]  # `plain` is not on allegro-cz


@pytest.mark.parametrize(
    "modification",
    [
        {"type": "FIXED_PRICE", "price": {"amount": "0", "currency": "PLN"}},
        {"type": "FIXED_PRICE", "price": {"amount": "1.005", "currency": "PLN"}},
        {"type": "FIXED_PRICE", "price": {"amount": "abc", "currency": "PLN"}},
        {"type": "FIXED_PRICE", "price": {"amount": "10.00", "currency": "EUR"}},
        {
            "type": "FIXED_PRICE",
            "price": {"amount": "10.00", "currency": "PLN"},
            "marketplaceId": "allegro-xx",
        },
        {"type": "INCREASE_PRICE", "value": {"amount": "1.00", "currency": "PLN"}},
    ],
)
def test_bad_price_modifications_are_422(sim: Sim, modification: dict[str, object]) -> None:
    body = {"modification": modification, "offerCriteria": criteria("1")}

    response = put(sim, "price", body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["path"].startswith("modification")


def test_reports_of_unknown_commands_are_404_and_kinds_are_apart(sim: Sim) -> None:
    offer_id = add(sim)
    command_id = str(uuid.uuid4())
    put(sim, "quantity", quantity(2, offer_id), command_id)

    assert report(sim, "price", command_id).status_code == 404
    assert report(sim, "publication", str(uuid.uuid4())).status_code == 404
    assert sim.get(f"/sale/offer-price-change-commands/{command_id}/tasks").status_code == 404
    assert report(sim, "quantity", "nope").status_code == 400


def test_task_pages_follow_limit_and_offset(sim: Sim) -> None:
    offer_ids = [add(sim, stock=5) for _ in range(7)]
    command_id = str(uuid.uuid4())
    put(sim, "quantity", quantity(3, *offer_ids), command_id)
    sim.clock.advance(1)

    first = tasks(sim, "quantity", command_id, limit=5)
    rest = tasks(sim, "quantity", command_id, limit=5, offset=5)
    default = tasks(sim, "quantity", command_id)

    assert [t["offer"]["id"] for t in first + rest] == offer_ids
    assert len(default) == 7
    assert (
        sim.get(f"/sale/offer-quantity-change-commands/{command_id}/tasks", limit=1001).status_code
        == 422
    )


def test_quantity_changes_past_the_minute_limit_are_429(make_sim: SimFactory) -> None:
    sim = make_sim(offer_quantity_changes_per_minute=5)
    offer_ids = [add(sim, stock=5) for _ in range(3)]

    first = put(sim, "quantity", quantity(2, *offer_ids))
    over = put(sim, "quantity", quantity(2, *offer_ids))
    prices = put(sim, "price", price("5.00", *offer_ids))  # a budget of its own
    sim.clock.advance(61)
    later = put(sim, "quantity", quantity(2, *offer_ids))

    assert (first.status_code, over.status_code) == (201, 429)
    assert over.json()["errors"][0]["code"]
    assert prices.status_code == 201
    assert later.status_code == 201


def test_the_hour_limit_holds_after_the_minute_has_passed(make_sim: SimFactory) -> None:
    sim = make_sim(offer_price_changes_per_minute=10, offer_price_changes_per_hour=4)
    offer_ids = [add(sim) for _ in range(3)]

    first = put(sim, "price", price("5.00", *offer_ids))
    sim.clock.advance(120)
    second = put(sim, "price", price("6.00", *offer_ids))
    sim.clock.advance(3600)
    third = put(sim, "price", price("6.00", *offer_ids))

    assert [first.status_code, second.status_code, third.status_code] == [201, 429, 201]
