"""Offer changes out, end to end: Allegro's offer event journal becomes `OfferChanged` on the
offers topic. The service as a process (`run`), the simulator over real HTTP, the real
broker; expected values come from the simulator's offers."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import OfferSpec, SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.commands import results_once_all_answered
from tests.support.kafka_reader import read_topic
from tests.support.offers import (
    journal_reads,
    offer_now,
    offers_once_published,
    published,
    send_offer_commands,
    set_stock,
    stock_of,
)
from tests.support.process import ServiceProcess
from tests.support.service import service_env

pytestmark = pytest.mark.integration

SWEEPING = "offer cursor is older than the journal keeps events: sweeping the offers"
DAY_AND_HOUR = timedelta(hours=25)


def simulator(*, emit: bool = False) -> SimulatorState:
    """Six offers, one SKU each; `emit=True` announces them (OFFER_ACTIVATED), so that the
    service's first run publishes every one of them."""
    state = SimulatorState(SimulatorConfig(seed=1717, offer_command_delay_seconds=0.2))
    state.add_offers(
        [
            OfferSpec(id=f"2000000000{n}", sku=f"SKU-{n}", stock=5, price=Decimal("10.00"))
            for n in range(1, 7)
        ],
        emit=emit,
    )
    return state


def env_for(server: SimulatorServer, kafka: KafkaConfig, db: Path) -> dict[str, str]:
    state = server.state
    return service_env(
        server.url,
        state.config,
        state.initial_refresh_token,
        kafka,
        db,
        POLL_INTERVAL_SECONDS="0.5",
        OFFER_EVENTS_POLL_SECONDS="0.3",
    )


async def run_until_published(
    env: dict[str, str],
    state: SimulatorState,
    kafka: KafkaConfig,
    expected: dict[str, dict[str, Any]],
) -> ServiceProcess:
    """The service run until the offers topic shows `expected`, then two more journal reads
    (whatever else it would publish, it has by then), then stopped."""
    with ServiceProcess(env, "run") as service:
        await offers_once_published(kafka.bootstrap_servers, kafka.topic_offers, expected, 60)
        reads = journal_reads(state)
        service.wait_for(lambda: journal_reads(state) >= reads + 2, within=30, what="2 polls")
        service.terminate()
        assert service.wait_exit(within=30) == 0, service.stderr_tail()
    return service


def offer_reads(state: SimulatorState) -> int:
    """How many offers were read one by one (`GET /sale/product-offers/{id}`) so far."""
    return sum(1 for e in state.request_log if e.path.startswith("/sale/product-offers/"))


async def offers_topic(kafka: KafkaConfig) -> list[dict[str, Any]]:
    return published(await read_topic(kafka.bootstrap_servers, kafka.topic_offers))


async def test_each_changed_offer_published_once_duplicates_publish_nothing(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    state = simulator()
    db = tmp_path / "s.db"
    with SimulatorServer(state) as server:
        env = env_for(server, kafka_topics, db)
        # Before its first start: Sales Center changes, a sale of the last items, one offer
        # changed twice, every event duplicated; 20000000006 is left alone (the first start
        # reads the journal from its oldest event and publishes nothing about it).
        state.change_offer("20000000001", stock=11)
        state.change_offer("20000000002", price="12.50")
        state.change_offer("20000000003", action="END")
        state.sell_offer("20000000004", 5)  # stock 0: Allegro ends it (EMPTY_STOCK)
        state.change_offer("20000000005", stock=7)
        state.change_offer("20000000005", price="9.99")
        for event in state.offer_journal():
            state.duplicate_offer_event(event["id"])  # every event delivered twice
        changed = [f"2000000000{n}" for n in range(1, 6)]
        expected = {offer_id: offer_now(state, offer_id) for offer_id in changed}
        assert expected["20000000004"]["ended_by"] == "EMPTY_STOCK"

        await run_until_published(env, state, kafka_topics, expected)
        first = await offers_topic(kafka_topics)
        # Once each, as it is now, however many events named it; the untouched offer not at
        # all.
        assert Counter(v["offer_id"] for v in first) == dict.fromkeys(changed, 1)

        # Again over the same state, every event delivered once more (its cursor moved back
        # to the oldest retained event): nothing new, what it published is what they show.
        rewind_cursor(db, "e2e")
        reads = offer_reads(state)
        service = await run_until_published(env, state, kafka_topics, expected)
        assert offer_reads(state) - reads == len(changed)  # each read again, once
        assert len(await offers_topic(kafka_topics)) == len(first)
        assert service.count("offer batch committed") == 0

        # A service that never ran over the same journal publishes the same event ids: a
        # consumer that dedupes by event_id sees each change once.
        fresh = env_for(server, kafka_topics, tmp_path / "fresh.db")
        await run_until_published(fresh, state, kafka_topics, expected)
        everything = await offers_topic(kafka_topics)
    # (The topic has several partitions: compared as multisets, not in the order read.)
    assert Counter(v["event_id"] for v in everything) == {v["event_id"]: 2 for v in first}
    assert sorted(map(str, everything)) == sorted(map(str, first + first))  # the same values


async def test_an_offer_allegro_ended_for_empty_stock_is_reactivated_by_stock_back(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    state = simulator()
    bootstrap = kafka_topics.bootstrap_servers
    with SimulatorServer(state) as server:
        env = env_for(server, kafka_topics, tmp_path / "s.db")
        with ServiceProcess(env, "run") as service:
            state.sell_offer("20000000004", 5)  # the last items: Allegro ends it
            ended = {"20000000004": offer_now(state, "20000000004")}
            assert ended["20000000004"]["ended_by"] == "EMPTY_STOCK"
            # The service knows it ended for EMPTY_STOCK once it published it so.
            await offers_once_published(bootstrap, kafka_topics.topic_offers, ended, 60)

            back = set_stock("SKU-4", 6)
            await send_offer_commands(bootstrap, kafka_topics.topic_offer_commands, [back])
            results = await results_once_all_answered(
                bootstrap, kafka_topics.topic_command_results, [back], within=60
            )
            assert results.outcome(back) == ("CommandSucceeded", None)
            assert stock_of(state, "20000000004") == (6, "ACTIVE")
            active = {"20000000004": offer_now(state, "20000000004")}
            await offers_once_published(bootstrap, kafka_topics.topic_offers, active, 60)
            service.terminate()
            assert service.wait_exit(within=30) == 0, service.stderr_tail()
    assert [p["kind"] for p in state.offer_command_puts()] == ["quantity", "publication"]


def rewind_cursor(db: Path, account: str) -> None:
    """The offer cursor back to the journal's oldest retained event (position NULL in the
    SQLite offer store's `offer_cursors`), as if every event were delivered again."""
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE offer_cursors SET position = NULL WHERE account = ?", (account,))
    connection.close()


def set_cursor_read_back(db: Path, account: str, by: timedelta) -> None:
    """The service's own clock does not move in this test: the day it was stopped is written
    into the offer store instead, by moving its offer cursor's `read_at` back (the
    `offer_cursors` table of the SQLite offer store, an ISO 8601 text)."""
    with sqlite3.connect(db) as connection:
        (read_at,) = connection.execute(
            "SELECT read_at FROM offer_cursors WHERE account = ?", (account,)
        ).fetchone()
        moved = (datetime.fromisoformat(read_at) - by).isoformat()
        connection.execute(
            "UPDATE offer_cursors SET read_at = ? WHERE account = ?", (moved, account)
        )
    connection.close()


async def test_after_25_hours_down_the_changed_offers_are_swept_and_published_once(
    kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    state = simulator(emit=True)
    db = tmp_path / "s.db"
    every = [f"2000000000{n}" for n in range(1, 7)]
    with SimulatorServer(state) as server:
        env = env_for(server, kafka_topics, db)
        before = {offer_id: offer_now(state, offer_id) for offer_id in every}
        await run_until_published(env, state, kafka_topics, before)
        first = await offers_topic(kafka_topics)
        assert Counter(v["offer_id"] for v in first) == dict.fromkeys(every, 1)

        # Down for a day: some offers change, their events expire with the day, and so does
        # the service's access token (it must refresh).
        state.change_offer("20000000001", stock=2)
        state.change_offer("20000000002", price="14.00")
        state.sell_offer("20000000003", 5)
        back_at = state.advance_clock(DAY_AND_HOUR.total_seconds())
        assert state.offer_journal() == []
        set_cursor_read_back(db, "e2e", DAY_AND_HOUR)
        changed = ["20000000001", "20000000002", "20000000003"]
        after = {offer_id: offer_now(state, offer_id) for offer_id in changed}

        service = await run_until_published(env, state, kafka_topics, after)
        assert service.count(SWEEPING) == 1
        # The token it kept expired with the day: it got a new one, and the listing the sweep
        # read was answered. (A request already under way with the old token may still be
        # answered 401 after the refresh: the one check of its order would be racy.)
        since = [e for e in state.request_log if e.wall >= back_at]
        assert [e for e in since if e.path == "/auth/oauth/token" and e.status == 200]
        assert [e for e in since if e.path == "/sale/offers" and e.status == 200]
        # (Several partitions: what is new is told by event id, not by the order read.)
        old = {v["event_id"] for v in first}
        second = [v for v in await offers_topic(kafka_topics) if v["event_id"] not in old]
    assert Counter(v["offer_id"] for v in second) == dict.fromkeys(changed, 1)
