"""The offer adapters over real HTTP against the simulator: SKUs found and offers listed as
the simulator holds them, batch commands applied once (a lost answer repeated, then 409),
tasks that fail, and the offer event journal bringing back what changed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from application.ports.errors import AllegroUnavailable
from application.ports.offers import ListedOffer, OfferNotFound, UnreadableOffer
from domain.money import Money
from domain.offers import BatchCommand, BatchKind, MarketPrice, OfferSnapshot, PublicationAction
from sandbox.allegro import OfferSpec

from .conftest import Sandbox

pytestmark = pytest.mark.integration

ACCOUNT = "default"


def offer_specs(n: int, sku: str = "SKU", **fields: Any) -> list[OfferSpec]:
    return [
        OfferSpec(id=str(30_000_000_000 + n * 10 + k), sku=f"{sku}-{n}", **fields) for k in range(2)
    ]


def listed_by_simulator(sandbox: Sandbox, offer_id: str) -> ListedOffer:
    """The simulator's own listing of the offer, as the port's type (built here by hand)."""
    item = sandbox.state.listed_offer(offer_id)
    prices = [MarketPrice("allegro-pl", Money.parse(**item["sellingMode"]["price"]))]
    for marketplace in sorted(item["additionalMarketplaces"]):
        price = item["additionalMarketplaces"][marketplace]["sellingMode"]["price"]
        prices.append(MarketPrice(marketplace, Money.parse(**price)))
    external = item["external"]
    return ListedOffer(
        offer_id=item["id"],
        sku=external["id"] if external else None,
        stock_available=item["stock"]["available"],
        prices=tuple(prices),
        publication_status=item["publication"]["status"],
    )


def command(kind: BatchKind, offers: list[str], round_key: str = "p0:0-0", **what: Any) -> Any:
    return BatchCommand.build(ACCOUNT, round_key, kind, offers, **what)


async def until_final(sandbox: Sandbox, writer: Any, batch: BatchCommand) -> None:
    """Poll the report as the offer sync does, on the simulated clock (its tasks run later)."""
    for _ in range(50):
        if (await writer.report(batch)).final:
            return
        await sandbox.time.sleep(0.2)
    raise AssertionError("the command never finished")


# --- the catalog ------------------------------------------------------------------------------


async def test_the_offers_of_many_skus_are_found_as_the_simulator_lists_them(
    sandbox: Sandbox,
) -> None:
    ids = sandbox.state.seed_offers(300, 150, marketplaces=["allegro-cz"], seed=3)
    skus = {sandbox.state.listed_offer(offer_id)["external"]["id"] for offer_id in ids}
    async with sandbox.client() as client:
        found = await client.command_offer_catalog.find_by_skus([*skus, "S" * 101, "NO-SUCH"])

    assert len(skus) == 150
    assert sorted(found, key=lambda o: o.offer_id) == sorted(
        (listed_by_simulator(sandbox, offer_id) for offer_id in ids), key=lambda o: o.offer_id
    )


async def test_the_listing_pages_through_every_offer(sandbox: Sandbox) -> None:
    ids = sandbox.state.seed_offers(250, 250, seed=5)
    seen: list[str] = []
    async with sandbox.client() as client:
        offset = 0
        while True:
            page = await client.offer_catalog.list_page(offset, 100)
            seen.extend(offer.offer_id for offer in page.offers)
            offset += 100
            if offset >= page.total:
                break

    assert page.total == 250
    assert sorted(seen) == sorted(ids)


# --- the batch commands -----------------------------------------------------------------------


async def test_a_quantity_command_is_applied_and_reported_task_by_task(sandbox: Sandbox) -> None:
    ids = sandbox.state.add_offers(offer_specs(1, stock=5))
    batch = command(BatchKind.QUANTITY, ids, quantity=17)
    async with sandbox.client() as client:
        writer = client.offer_writer
        assert await writer.send(batch) is True
        first = await writer.report(batch)
        await until_final(sandbox, writer, batch)
        report = await writer.report(batch)
        tasks = await writer.tasks(batch)

    assert not first.final  # the first report counts nothing yet
    assert (report.total, report.success, report.failed, report.completed) == (2, 2, 0, True)
    assert sorted((task.offer_id, task.status) for task in tasks) == [
        (offer_id, "SUCCESS") for offer_id in sorted(ids)
    ]
    assert [sandbox.state.offer(offer_id)["stock"]["available"] for offer_id in ids] == [17, 17]


async def test_a_command_sent_again_is_already_used_and_changes_nothing(
    sandbox: Sandbox,
) -> None:
    ids = sandbox.state.add_offers(offer_specs(2, stock=5))
    batch = command(BatchKind.QUANTITY, ids, quantity=9)
    async with sandbox.client() as client:
        assert await client.offer_writer.send(batch) is True
        assert await client.offer_writer.send(batch) is False

    puts = sandbox.state.offer_command_puts()
    assert [put["status"] for put in puts] == [201, 409]
    assert len({put["digest"] for put in puts}) == 1


@pytest.mark.parametrize("mode", ["error", "timeout"])
async def test_a_put_whose_answer_is_lost_is_repeated_and_found_used(
    sandbox: Sandbox, mode: str
) -> None:
    ids = sandbox.state.add_offers(offer_specs(3, stock=5))
    batch = command(BatchKind.QUANTITY, ids, quantity=4)
    sandbox.state.faults.update(
        {"lose_next_writes": 1, "lost_write_mode": mode, "hang_seconds": 5.0}
    )
    async with sandbox.client(timeout_seconds=0.5) as client:
        assert await client.offer_writer.send(batch) is False  # 409 on the repeat: sent
        await until_final(sandbox, client.offer_writer, batch)

    puts = sandbox.state.offer_command_puts()
    assert [put["commandId"] for put in puts] == [str(batch.command_id)] * 2
    assert [put["status"] for put in puts] == [201, 409]
    assert len({put["digest"] for put in puts}) == 1  # one id, one content
    assert [sandbox.state.offer(offer_id)["stock"]["available"] for offer_id in ids] == [4, 4]


async def test_a_put_whose_answer_breaks_off_is_an_outage_and_the_next_send_finds_it_used(
    sandbox: Sandbox,
) -> None:
    """A 201 whose body never ends: the answer is lost after its status came, which
    `AllegroApi` does not repeat; the round (staged) sends the command again."""
    ids = sandbox.state.add_offers(offer_specs(9, stock=5))
    batch = command(BatchKind.QUANTITY, ids, quantity=4)
    sandbox.state.faults.update({"lose_next_writes": 1, "lost_write_mode": "drop"})
    async with sandbox.client() as client:
        with pytest.raises(AllegroUnavailable):
            await client.offer_writer.send(batch)
        assert await client.offer_writer.send(batch) is False
        await until_final(sandbox, client.offer_writer, batch)

    puts = sandbox.state.offer_command_puts()
    assert [put["status"] for put in puts] == [201, 409]
    assert len({put["digest"] for put in puts}) == 1
    assert [sandbox.state.offer(offer_id)["stock"]["available"] for offer_id in ids] == [4, 4]


async def test_a_price_is_set_on_the_marketplace_named_and_on_the_base_one(
    sandbox: Sandbox,
) -> None:
    ids = sandbox.state.add_offers(
        offer_specs(4, price=Decimal("10.00"), marketplaces={"allegro-cz": Decimal("60.00")})
    )
    czech = command(
        BatchKind.PRICE, ids, price=Money.parse("229.5", "CZK"), marketplace="allegro-cz"
    )
    base = command(BatchKind.PRICE, ids, price=Money.parse("39.99", "PLN"))
    async with sandbox.client() as client:
        for batch in (czech, base):
            assert await client.offer_writer.send(batch) is True
            await until_final(sandbox, client.offer_writer, batch)
        found = await client.command_offer_catalog.find_by_skus(["SKU-4"])

    assert {offer.prices for offer in found} == {
        (
            MarketPrice("allegro-pl", Money.parse("39.99", "PLN")),
            MarketPrice("allegro-cz", Money.parse("229.50", "CZK")),
        )
    }


async def test_an_offer_ended_then_restocked_and_activated(sandbox: Sandbox) -> None:
    ids = sandbox.state.add_offers(offer_specs(5, stock=3))
    end = command(BatchKind.PUBLICATION, ids, action=PublicationAction.END)
    restock = command(BatchKind.QUANTITY, ids, "p0:1-1", quantity=8)
    activate = command(BatchKind.PUBLICATION, ids, "p0:1-1", action=PublicationAction.ACTIVATE)
    async with sandbox.client() as client:
        await client.offer_writer.send(end)
        await until_final(sandbox, client.offer_writer, end)
        ended = await client.offer_journal.offer(ids[0])
        for batch in (restock, activate):
            await client.offer_writer.send(batch)
            await until_final(sandbox, client.offer_writer, batch)
        active = await client.offer_journal.offer(ids[0])

    assert isinstance(ended, OfferSnapshot)
    assert (ended.publication_status, ended.ended_by) == ("ENDED", "USER")
    assert isinstance(active, OfferSnapshot)
    assert (active.publication_status, active.ended_by, active.stock_available) == (
        "ACTIVE",
        None,
        8,
    )


async def test_a_failing_task_reports_allegros_message_and_code(sandbox: Sandbox) -> None:
    ids = sandbox.state.add_offers(offer_specs(6, stock=3))
    sandbox.state.faults.update({"failing_offer_ids": [ids[1]]})
    batch = command(BatchKind.QUANTITY, ids, quantity=2)
    async with sandbox.client() as client:
        await client.offer_writer.send(batch)
        await until_final(sandbox, client.offer_writer, batch)
        report = await client.offer_writer.report(batch)
        tasks = {task.offer_id: task for task in await client.offer_writer.tasks(batch)}

    assert (report.success, report.failed) == (1, 1)
    assert tasks[ids[0]].status == "SUCCESS"
    assert tasks[ids[1]].status == "FAIL"
    assert tasks[ids[1]].code == "OFFER_LOCKED"
    assert "another process" in (tasks[ids[1]].message or "")


async def test_the_change_limits_keep_a_burst_inside_the_simulators_limits(
    sandbox: Sandbox,
) -> None:
    """Ten commands of 1 000 offers: the tenth waits for the minute (the simulator would
    answer 429 to it, and the client id would be blocked for a minute)."""
    ids = sandbox.state.seed_offers(1_000, 1_000, seed=9)
    async with sandbox.client(rate_limit_per_minute=9_000, rate_limit_burst=1_000) as client:
        for n in range(10):
            batch = command(BatchKind.QUANTITY, ids, f"p0:{n}-{n}", quantity=n + 1)
            assert await client.offer_writer.send(batch) is True

    puts = sandbox.state.offer_command_puts()
    assert [put["status"] for put in puts] == [201] * 10
    assert sum(sandbox.time.sleeps) >= 60.0


# --- the offer event journal ------------------------------------------------------------------


async def test_changes_come_back_as_events_and_the_offer_reads_as_it_is_now(
    sandbox: Sandbox,
) -> None:
    ids = sandbox.state.add_offers(offer_specs(7, stock=5, price=Decimal("10.00")))
    sandbox.state.change_offer(ids[0], price="12.00")
    async with sandbox.client() as client:
        batch = command(BatchKind.QUANTITY, ids[:1], quantity=6)
        await client.offer_writer.send(batch)
        await until_final(sandbox, client.offer_writer, batch)
        page = await client.offer_journal.events(None, 1000)
        snapshot = await client.offer_journal.offer(ids[0])
        after = await client.offer_journal.events(page.last_id, 1000)

    assert page.unreadable == ()
    assert {event.offer_id for event in page.events} == {ids[0]}
    assert {"OFFER_PRICE_CHANGED", "OFFER_STOCK_CHANGED"} <= {e.event_type for e in page.events}
    assert page.last_id == sandbox.state.offer_journal()[-1]["id"]
    assert after.events == ()
    assert isinstance(snapshot, OfferSnapshot)
    assert (snapshot.sku, snapshot.stock_available) == ("SKU-7", 6)
    assert snapshot.prices == (MarketPrice("allegro-pl", Money.parse("12.00", "PLN")),)
    assert snapshot.updated_at.isoformat().startswith(sandbox.state.offer(ids[0])["updatedAt"][:19])


async def test_a_duplicated_event_comes_twice_with_one_id(sandbox: Sandbox) -> None:
    ids = sandbox.state.add_offers(offer_specs(8, stock=5))
    sandbox.state.change_offer(ids[0], stock=9)
    event_id = sandbox.state.offer_journal()[-1]["id"]
    sandbox.state.duplicate_offer_event(event_id)
    async with sandbox.client() as client:
        page = await client.offer_journal.events(None, 1000)

    assert [event.event_id for event in page.events] == [event_id, event_id]
    assert page.last_id == event_id


async def test_an_unknown_offer_is_not_found(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        with pytest.raises(OfferNotFound):
            await client.offer_journal.offer("99999999999")
        refused = await client.offer_journal.offer("../offers")

    assert isinstance(refused, UnreadableOffer)
    # The id that is not one never reached Allegro.
    assert [e.path for e in sandbox.state.request_log if "offer" in e.path] == [
        "/sale/product-offers/99999999999"
    ]
