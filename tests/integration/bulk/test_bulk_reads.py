"""Bulk reads over real HTTP (the simulator) and a real broker: the same bytes published,
far fewer requests."""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.allegro import AllegroClientConfig, build_allegro_client
from adapters.inmemory.inmemory_event_publisher import InMemoryEventPublisher
from adapters.kafka import AiokafkaEventPublisher, KafkaConfig, ensure_topics
from adapters.kafka.messages import encode_event
from application.ports import EventPublisher, SystemClock
from application.sync_orders import SyncSettings
from domain.events import OrderImported, OrderUpdated
from domain.policy import ImportPolicy
from entrypoints.assembly import OrderImport, order_import
from sandbox.allegro import ManualClock, SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.fakes import MemoryStateStore, MemoryTokenStore
from tests.support.kafka_reader import read_topic

pytestmark = pytest.mark.integration

ACCOUNT = "bulk"
UNLIMITED = 10**9
LIST = "/order/checkout-forms"


def client_config(server: SimulatorServer, state: SimulatorState) -> AllegroClientConfig:
    return AllegroClientConfig(
        api_url=server.url,
        auth_url=server.oauth_url,
        client_id=state.config.client_id,
        client_secret=state.config.client_secret,
        account=ACCOUNT,
        initial_refresh_token=state.issue_refresh_token(),
        rate_limit_per_minute=UNLIMITED,
        rate_limit_burst=UNLIMITED,
    )


async def import_all(
    server: SimulatorServer,
    state: SimulatorState,
    publisher: EventPublisher,
    *,
    bulk: bool,
    batch_size: int = 1000,
    pages: int = 1,
) -> int:
    """Drain the journal from its start; returns the number of events published."""
    async with build_allegro_client(client_config(server, state), MemoryTokenStore()) as client:
        sync = order_import(
            journal=client.journal,
            forms=client.forms,
            publisher=publisher,
            state=MemoryStateStore(),
            policy=ImportPolicy(account=ACCOUNT),
            settings=SyncSettings(
                account=ACCOUNT,
                start_from="earliest",
                batch_size=batch_size,
                pages_per_batch=pages,
                bulk_reads=bulk,
            ),
            clock=SystemClock(),
        ).sync
        outcomes = await sync.drain()
    assert not outcomes[-1].retry_pending
    return sum(len(outcome.published) for outcome in outcomes)


def form_requests(state: SimulatorState) -> Counter[str]:
    """Checkout-form requests since the last clear: list pages and single reads."""
    kinds = (
        "list" if entry.path == LIST else "single"
        for entry in state.request_log
        if entry.path.startswith(LIST)
    )
    return Counter(kinds)


@pytest.fixture
def mixed() -> Iterator[tuple[SimulatorState, SimulatorServer]]:
    state = SimulatorState(SimulatorConfig(seed=2027, rate_limit_per_minute=UNLIMITED))
    state.script_mixed_lifecycles(300, seed=2027)
    with SimulatorServer(state) as server:
        yield state, server


async def published_records(
    kafka: KafkaConfig,
    server: SimulatorServer,
    state: SimulatorState,
    *,
    bulk: bool,
    pages: int = 1,
) -> tuple[set[tuple[str, bytes | None]], Counter[str]]:
    await ensure_topics(kafka)
    state.clear_request_log()
    async with AiokafkaEventPublisher(kafka) as publisher:
        # Small batches: many orders' events straddle two batches, as in a backlog.
        published = await import_all(
            server, state, publisher, bulk=bulk, batch_size=80, pages=pages
        )
    records = await read_topic(kafka.bootstrap_servers, kafka.topic_orders, min_records=published)
    assert len(records) == published
    return {(r.header("ce_id"), r.value) for r in records}, form_requests(state)


@pytest.mark.parametrize("pages", [1, 3])  # journal pages per batch (BATCH_PAGES)
async def test_bulk_and_single_reads_publish_the_same_bytes(mixed, kafka_topics, pages):
    state, server = mixed
    single_topics = dataclasses.replace(
        kafka_topics,
        topic_orders=f"{kafka_topics.topic_orders}.single",
        topic_dlq=f"{kafka_topics.topic_dlq}.single",
    )

    bulk, bulk_requests = await published_records(
        kafka_topics, server, state, bulk=True, pages=pages
    )
    single, single_requests = await published_records(
        single_topics, server, state, bulk=False, pages=pages
    )

    assert bulk == single
    assert len(bulk) > 200
    assert single_requests["list"] == 0
    assert bulk_requests["list"] > 0
    assert sum(bulk_requests.values()) < sum(single_requests.values()) / 3


async def test_a_burst_of_paid_orders_costs_under_a_tenth_of_a_request_per_order():
    clock = ManualClock()
    state = SimulatorState(SimulatorConfig(seed=5, rate_limit_per_minute=UNLIMITED), clock=clock)
    orders = []
    for _ in range(1000):
        orders.append(state.place_order())
        clock.advance(0.05)
    for order_id in orders:  # everybody pays after everybody bought: BOUGHT and RFP far apart
        state.pay(order_id)
        clock.advance(0.05)
    publisher = InMemoryEventPublisher()

    with SimulatorServer(state) as server:
        state.clear_request_log()
        await import_all(server, state, publisher, bulk=True)
        requests = [e for e in state.request_log if e.path.startswith("/order/")]

    imported = [e for e in publisher.published if isinstance(e, OrderImported)]
    assert len(imported) == 1000
    assert len(requests) <= 100


async def test_a_sweep_and_single_reads_publish_the_same_order_updated_bytes_as_bulk_reads() -> (
    None
):
    """Buyer changes and top-ups after import, revealed by the journal (forms read through
    list pages, and one by one) and by a reconciliation sweep, each from the same recorded
    state: the same OrderUpdated records."""
    state = SimulatorState(SimulatorConfig(seed=1415, rate_limit_per_minute=UNLIMITED))
    ids = []
    for _ in range(24):
        order_id = state.place_order(payment="ONLINE")
        state.pay(order_id)
        ids.append(order_id)
    with SimulatorServer(state) as server:
        async with build_allegro_client(client_config(server, state), MemoryTokenStore()) as client:

            def use_cases(
                store: MemoryStateStore, publisher: EventPublisher, bulk: bool = True
            ) -> OrderImport:
                settings = SyncSettings(account=ACCOUNT, start_from="earliest", bulk_reads=bulk)
                policy = ImportPolicy(account=ACCOUNT)
                return order_import(
                    client.journal, client.forms, publisher, store, policy, settings, SystemClock()
                )

            journal_store = MemoryStateStore()
            await use_cases(journal_store, InMemoryEventPublisher()).sync.drain()
            sweep_store = copy.deepcopy(journal_store)  # the same records, before the changes
            single_store = copy.deepcopy(journal_store)
            for order_id in ids[::2]:
                state.buyer_change(order_id, "address")
            for order_id in ids[1::3]:
                state.add_surcharge(order_id, "5.00")

            by_journal, by_sweep = InMemoryEventPublisher(), InMemoryEventPublisher()
            by_single = InMemoryEventPublisher()
            state.clear_request_log()
            await use_cases(journal_store, by_journal).sync.drain()
            listed = form_requests(state)["list"]
            await use_cases(single_store, by_single, bulk=False).sync.drain()
            everything = (
                datetime(2000, 1, 1, tzinfo=UTC),
                datetime.now(UTC) + timedelta(days=3650),
            )
            await use_cases(sweep_store, by_sweep).sweep.run(*everything)

    def updates(publisher: InMemoryEventPublisher) -> set[tuple[bytes, bytes]]:
        encoded = (encode_event(e) for e in publisher.published if isinstance(e, OrderUpdated))
        return {(record.key, record.value) for record in encoded}

    changed = set(ids[::2]) | set(ids[1::3])
    assert {e.external_id for e in by_journal.published if isinstance(e, OrderUpdated)} == changed
    assert updates(by_sweep) == updates(by_journal)
    assert updates(by_single) == updates(by_journal)
    assert listed > 0  # the journal path did read through list pages
