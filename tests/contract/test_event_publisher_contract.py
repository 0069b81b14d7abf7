"""One behaviour suite for the EventPublisher port, run against every adapter.

What was delivered is observed the way each adapter allows: the in-memory fake's state, or
a consumer reading the Kafka topic from the beginning.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import pytest

from adapters.inmemory import InMemoryEventPublisher
from adapters.kafka.admin import ensure_topics
from adapters.kafka.aiokafka_event_publisher import AiokafkaEventPublisher
from adapters.kafka.config import KafkaConfig
from adapters.kafka.messages import MIN_MAX_MESSAGE_BYTES, encode_event, record_size
from application.ports.errors import PublishError
from application.ports.publisher import EventPublisher, publish, publish_dead_letters
from domain.events import DomainEvent
from domain.statuses import OrderStatus
from sandbox.kafka_broker import EmbeddedBroker, EmbeddedBrokerUnavailable
from tests.support.builders import (
    make_dead_letter,
    make_order_imported,
    make_order_status_changed,
    make_order_with_line_items,
)
from tests.support.kafka_reader import read_topic
from tests.unit.kafka.builders import make_order_updated

OUTAGE_REQUEST_TIMEOUT_MS = 1000


@dataclass(frozen=True, slots=True)
class Delivered:
    event_id: str
    event_type: str
    order_id: str


@dataclass(frozen=True, slots=True)
class Quarantined:
    checkout_form_id: str
    allegro_event_id: str | None
    attempts: int


class Harness(Protocol):
    publisher: EventPublisher

    async def delivered(self) -> list[Delivered]:
        """Every event delivered so far; per order, in delivery order."""
        ...

    async def quarantined(self) -> list[Quarantined]: ...

    async def break_broker(self) -> None:
        """From now on `publisher` talks to a broker that is down."""
        ...

    async def limit_message_size(self, max_bytes: int) -> None:
        """From now on `publisher` publishes records of at most `max_bytes`."""
        ...


class InMemoryHarness:
    def __init__(self) -> None:
        self.fake = InMemoryEventPublisher()
        self.publisher: EventPublisher = self.fake

    async def delivered(self) -> list[Delivered]:
        return [
            Delivered(str(e.event_id), e.event_type, e.external_id) for e in self.fake.published
        ]

    async def quarantined(self) -> list[Quarantined]:
        return [
            Quarantined(letter.checkout_form_id, letter.allegro_event_id, letter.attempts)
            for letter in self.fake.dead_letters
        ]

    async def break_broker(self) -> None:
        self.fake.fail_with = PublishError("simulated broker outage")

    async def limit_message_size(self, max_bytes: int) -> None:
        self.fake.limit_message_size(max_bytes, lambda event: record_size(encode_event(event)))


class KafkaHarness:
    def __init__(
        self, config: KafkaConfig, publisher: EventPublisher, stack: contextlib.AsyncExitStack
    ) -> None:
        self.config = config
        self.publisher = publisher
        self._stack = stack

    async def delivered(self) -> list[Delivered]:
        records = await read_topic(self.config.bootstrap_servers, self.config.topic_orders)
        return [
            Delivered(r.header("ce_id"), r.json()["event_type"], (r.key or b"").decode())
            for r in records
        ]

    async def quarantined(self) -> list[Quarantined]:
        records = await read_topic(self.config.bootstrap_servers, self.config.topic_dlq)
        values = [record.json() for record in records]
        return [
            Quarantined(v["checkout_form_id"], v["allegro_event_id"], v["attempts"]) for v in values
        ]

    async def break_broker(self) -> None:
        # A private broker, so the session's broker stays up for the other tests.
        try:
            broker = EmbeddedBroker().start()
        except EmbeddedBrokerUnavailable as exc:
            pytest.skip(f"no killable broker: {exc}")
        self._stack.callback(broker.stop)
        config = KafkaConfig(
            bootstrap_servers=broker.bootstrap_servers,
            topic_orders=self.config.topic_orders,
            topic_dlq=self.config.topic_dlq,
            enable_idempotence=False,
            request_timeout_ms=OUTAGE_REQUEST_TIMEOUT_MS,
        )
        await ensure_topics(config)
        self.publisher = await self._stack.enter_async_context(AiokafkaEventPublisher(config))
        broker.kill()

    async def limit_message_size(self, max_bytes: int) -> None:
        config = dataclasses.replace(self.config, max_message_bytes=max_bytes)
        self.publisher = await self._stack.enter_async_context(AiokafkaEventPublisher(config))


@pytest.fixture
def memory_harness() -> InMemoryHarness:
    return InMemoryHarness()


@pytest.fixture
async def kafka_harness(kafka_topics: KafkaConfig) -> AsyncIterator[KafkaHarness]:
    async with contextlib.AsyncExitStack() as stack:
        publisher = await stack.enter_async_context(AiokafkaEventPublisher(kafka_topics))
        yield KafkaHarness(kafka_topics, publisher, stack)


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.integration)])
def harness(request: pytest.FixtureRequest) -> Harness:
    adapter_harness: Harness = request.getfixturevalue(f"{request.param}_harness")
    return adapter_harness


def delivered_as(events: list[DomainEvent]) -> list[Delivered]:
    return [Delivered(str(e.event_id), e.event_type, e.external_id) for e in events]


def of_order(delivered: list[Delivered], order_id: str) -> list[Delivered]:
    return [d for d in delivered if d.order_id == order_id]


def by_id(delivered: list[Delivered]) -> list[Delivered]:
    return sorted(delivered, key=lambda d: d.event_id)


async def test_every_event_is_delivered_when_publish_returns(harness: Harness) -> None:
    events: list[DomainEvent] = [
        make_order_imported(external_id="order-a"),
        make_order_imported(external_id="order-b"),
        make_order_status_changed(external_id="order-c"),
        make_order_updated(external_id="order-d"),
    ]

    await publish(harness.publisher, events)

    assert by_id(await harness.delivered()) == by_id(delivered_as(events))


async def test_events_of_one_order_keep_their_publish_order(harness: Harness) -> None:
    imported = make_order_imported(external_id="order-a")
    processing = make_order_status_changed(
        external_id="order-a", revision="r2", order_status=OrderStatus.PROCESSING
    )
    moved = make_order_updated(external_id="order-a", revision="r3")
    shipped = make_order_status_changed(external_id="order-a", revision="r4")
    other = make_order_imported(external_id="order-b")

    await publish(harness.publisher, [imported, other, processing, moved])
    await publish(harness.publisher, [shipped])

    delivered = await harness.delivered()
    assert of_order(delivered, "order-a") == delivered_as([imported, processing, moved, shipped])
    assert of_order(delivered, "order-b") == delivered_as([other])


async def test_a_large_batch_is_delivered_completely(harness: Harness) -> None:
    events: list[DomainEvent] = [
        make_order_imported(external_id=f"order-{n:03d}") for n in range(250)
    ]

    await publish(harness.publisher, events)

    assert by_id(await harness.delivered()) == by_id(delivered_as(events))


async def test_an_empty_batch_delivers_nothing(harness: Harness) -> None:
    await publish(harness.publisher, [])
    await publish_dead_letters(harness.publisher, [])

    assert await harness.delivered() == []
    assert await harness.quarantined() == []


async def test_publishing_again_delivers_again_with_the_same_event_id(harness: Harness) -> None:
    event = make_order_imported()

    await publish(harness.publisher, [event])
    await publish(harness.publisher, [event])

    assert await harness.delivered() == delivered_as([event, event])


async def test_dead_letters_are_kept_apart_from_events(harness: Harness) -> None:
    letters = [
        make_dead_letter(checkout_form_id="order-x", attempts=3),
        make_dead_letter(checkout_form_id="order-y", allegro_event_id=None),
    ]

    await publish_dead_letters(harness.publisher, letters)

    assert await harness.delivered() == []
    assert sorted(await harness.quarantined(), key=lambda q: q.checkout_form_id) == [
        Quarantined("order-x", "1773479698020318", 3),
        Quarantined("order-y", None, 5),
    ]


async def test_an_event_over_the_size_limit_is_quarantined_and_the_others_delivered(
    harness: Harness,
) -> None:
    await harness.limit_message_size(MIN_MAX_MESSAGE_BYTES)
    big = make_order_with_line_items(200, external_id="order-big")
    others: list[DomainEvent] = [
        make_order_imported(external_id="order-a"),
        make_order_status_changed(external_id="order-b"),
    ]

    await publish(harness.publisher, [others[0], big, others[1]])

    assert by_id(await harness.delivered()) == by_id(delivered_as(others))
    assert await harness.quarantined() == [Quarantined("order-big", None, 1)]


async def test_an_outage_is_a_publish_error(harness: Harness) -> None:
    await harness.break_broker()

    with pytest.raises(PublishError):
        await publish(harness.publisher, [make_order_imported()])


async def test_an_outage_is_a_publish_error_for_dead_letters(harness: Harness) -> None:
    await harness.break_broker()

    with pytest.raises(PublishError):
        await publish_dead_letters(harness.publisher, [make_dead_letter()])


# The in-memory fake's outage switch (the same `fail_with` as the in-memory stores'),
# which the application's tests rely on.


async def test_fake_fails_every_call_while_fail_with_is_set_recording_nothing() -> None:
    fake = InMemoryEventPublisher()
    fake.fail_with = PublishError("broker down")

    with pytest.raises(PublishError, match="broker down"):
        await publish(fake, [make_order_imported()])
    with pytest.raises(PublishError, match="broker down"):
        await publish_dead_letters(fake, [make_dead_letter()])
    fake.fail_with = None
    await publish(fake, [make_order_status_changed()])

    assert fake.published == [make_order_status_changed()]
    assert fake.dead_letters == []
