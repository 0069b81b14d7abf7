"""The order write-back (fulfillment status, shipments, carriers) over real HTTP against the
simulator: effects checked in the simulator's own state, lost answers, the per-second cap."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterator

import pytest

from adapters.allegro import build_allegro_client
from application.ports.errors import AllegroRejected, AllegroUnavailable, CheckoutFormNotFound
from application.ports.order_writes import RevisionConflict, Shipment
from sandbox.allegro import ManualClock, SimulatorConfig, SimulatorServer, SimulatorState
from sandbox.allegro.shipments import CARRIER_IDS

from .conftest import MemoryTokenStore, Sandbox, SharedTime

pytestmark = pytest.mark.integration


def order_with_lines(sandbox: Sandbox, lines: int = 2) -> tuple[str, list[str]]:
    order_id = sandbox.state.place_order(line_items=lines)
    sandbox.state.pay(order_id)
    items = [item["id"] for item in sandbox.state.checkout_form(order_id)["lineItems"]]
    return order_id, items


def as_listed(order_id: str, sandbox: Sandbox) -> list[Shipment]:
    """The simulator's own shipments of the order, as the port's type."""
    return [
        Shipment(
            s["id"], s["carrierId"], s["waybill"], tuple(i["id"] for i in s.get("lineItems") or [])
        )
        for s in sandbox.state.shipments(order_id)
    ]


async def test_a_status_with_the_current_revision_is_set_and_an_outdated_one_conflicts(
    sandbox: Sandbox,
) -> None:
    order_id, _ = order_with_lines(sandbox)
    read = sandbox.state.revision_of(order_id)
    async with sandbox.client() as client:
        await client.orders.set_fulfillment_status(order_id, "PROCESSING", read)
        assert sandbox.state.checkout_form(order_id)["fulfillment"]["status"] == "PROCESSING"
        assert sandbox.state.revision_of(order_id) != read

        with pytest.raises(RevisionConflict) as caught:
            await client.orders.set_fulfillment_status(order_id, "SENT", read)
        assert caught.value.status_code == 409
        assert caught.value.code == "ConflictException"
        assert sandbox.state.checkout_form(order_id)["fulfillment"]["status"] == "PROCESSING"

        await client.orders.set_fulfillment_status(order_id, "SENT", None)  # unconditional
    assert sandbox.state.checkout_form(order_id)["fulfillment"]["status"] == "SENT"


async def test_a_shipment_posted_is_held_once_and_listed_as_the_simulator_holds_it(
    sandbox: Sandbox,
) -> None:
    order_id, items = order_with_lines(sandbox)
    async with sandbox.client() as client:
        assert list(await client.orders.shipments(order_id)) == []
        created = await client.orders.add_shipment(
            order_id, "OTHER", "JK-0001", "Kurier Janek", items[:1]
        )
        listed = await client.orders.shipments(order_id)

    assert sandbox.state.shipment_posts(order_id) == 1
    assert list(listed) == as_listed(order_id, sandbox) == [created]
    assert created.line_item_ids == (items[0],)
    assert (created.carrier_id, created.waybill) == ("OTHER", "JK-0001")
    assert sandbox.state.shipments(order_id)[0]["carrierName"] == "Kurier Janek"


async def test_the_carrier_ids_are_the_ones_the_simulator_lists(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        assert await client.orders.carrier_ids() == CARRIER_IDS


async def test_an_invalid_waybill_is_rejected_with_allegros_code(sandbox: Sandbox) -> None:
    order_id, _ = order_with_lines(sandbox)
    async with sandbox.client() as client:
        with pytest.raises(AllegroRejected) as caught:
            await client.orders.add_shipment(order_id, "DPD", "not a waybill!", None, [])

    assert (caught.value.status_code, caught.value.code) == (400, "VALIDATION_ERROR")
    assert sandbox.state.shipments(order_id) == []


async def test_writes_to_an_unknown_order_are_not_found(sandbox: Sandbox) -> None:
    unknown = str(uuid.uuid1())
    async with sandbox.client() as client:
        with pytest.raises(CheckoutFormNotFound):
            await client.orders.set_fulfillment_status(unknown, "SENT", None)
        with pytest.raises(CheckoutFormNotFound):
            await client.orders.shipments(unknown)
        with pytest.raises(CheckoutFormNotFound):
            await client.orders.add_shipment(unknown, "DPD", "W-1", None, [])


@pytest.mark.parametrize("mode", ["error", "drop", "timeout"])
async def test_a_shipment_post_whose_answer_is_lost_is_sent_once(
    sandbox: Sandbox, mode: str
) -> None:
    """The shipment exists, the client cannot know: one POST, an outage, and the listing
    (which the use case reads before posting again) shows it."""
    order_id, _ = order_with_lines(sandbox)
    sandbox.state.faults.update(
        {"lose_next_writes": 1, "lost_write_mode": mode, "hang_seconds": 5.0}
    )
    async with sandbox.client(timeout_seconds=0.5) as client:
        with pytest.raises(AllegroUnavailable):
            await client.orders.add_shipment(order_id, "INPOST", "620000000001", None, [])
        listed = await client.orders.shipments(order_id)

    assert sandbox.state.shipment_posts(order_id) == 1
    assert [(s.carrier_id, s.waybill) for s in listed] == [("INPOST", "620000000001")]


async def test_a_status_put_whose_answer_is_lost_is_sent_again_and_meets_its_own_revision(
    sandbox: Sandbox,
) -> None:
    """The repeated PUT carries the revision the first one changed: a 409, which the use
    case resolves by reading the order (the status is already the one asked for)."""
    order_id, _ = order_with_lines(sandbox)
    read = sandbox.state.revision_of(order_id)
    sandbox.state.faults.update({"lose_next_writes": 1, "lost_write_mode": "error"})
    async with sandbox.client() as client:
        with pytest.raises(RevisionConflict):
            await client.orders.set_fulfillment_status(order_id, "SENT", read)

    puts = [e for e in sandbox.state.request_log if e.method == "PUT"]
    assert [e.status for e in puts] == [500, 409]
    assert sandbox.state.checkout_form(order_id)["fulfillment"]["status"] == "SENT"


@pytest.fixture
def real_time_sandbox() -> Iterator[Sandbox]:
    """The per-second cap judged on real time: a shared manual clock jumps while requests
    are in flight and would stamp a whole burst with the next quarter's time."""
    state = SimulatorState(SimulatorConfig())
    server = SimulatorServer(state)
    server.start()
    try:
        yield Sandbox(state, server, SharedTime(ManualClock()))  # `time` unused: real time
    finally:
        server.stop()


@pytest.mark.timeout(60)
async def test_a_flood_of_shipment_calls_never_meets_the_per_second_cap(
    real_time_sandbox: Sandbox,
) -> None:
    state = real_time_sandbox.state
    orders = [state.place_order(line_items=1) for _ in range(4)]
    config = real_time_sandbox.config(
        rate_limit_per_minute=9_000,
        rate_limit_burst=1_000,
        max_attempts=1,  # a 429 would fail the call instead of hiding behind a retry
    )
    async with build_allegro_client(config, MemoryTokenStore()) as client:
        calls: list[Awaitable[object]] = [client.orders.shipments(orders[i % 4]) for i in range(60)]
        calls += [
            client.orders.add_shipment(orders[i % 4], "DPD", f"DPD-{i:04d}", None, [])
            for i in range(40)
        ]
        await asyncio.gather(*calls)

    log = [e for e in state.request_log if "/shipments" in e.path]
    assert len(log) == 100
    assert {e.status for e in log} == {200, 201}
    assert sum(state.shipment_post_counts().values()) == 40
