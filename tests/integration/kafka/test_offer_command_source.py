"""The offer topics against the real broker: the generic record source reading the
offer-commands topic (up to 1 000 records a receive, each read by the offer codec, offsets
committed by hand), `OfferChanged` written to the offers topic, and the topics created and
probed."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from adapters.kafka.admin import ensure_topics, probe_kafka
from adapters.kafka.aiokafka_command_source import aiokafka_offer_command_source
from adapters.kafka.aiokafka_event_publisher import AiokafkaEventPublisher
from adapters.kafka.config import KafkaConfig
from adapters.kafka.offers import KafkaOfferEncoder
from application.ports.commands import Position, Received
from domain.offers import OfferCommand, SetStock
from tests.support.kafka_reader import read_topic
from tests.unit.kafka.test_offer_encoder import make_offer_changed

pytestmark = pytest.mark.integration

ACCOUNT = "shop-1"
VALID, FOREIGN, REFUSED, UNREADABLE = 1_150, 20, 20, 10


@pytest.fixture
async def offer_topics(kafka_topics: KafkaConfig) -> KafkaConfig:
    """`kafka_topics` with offer topics of this test's own."""
    suffix = uuid.uuid4().hex[:12]
    config = dataclasses.replace(
        kafka_topics,
        topic_offers=f"test.offers.{suffix}",
        topic_offer_commands=f"test.offer-commands.{suffix}",
    )
    await ensure_topics(config)
    return config


def command(n: int, **fields: object) -> dict[str, object]:
    return {
        "command_id": str(uuid.UUID(int=n + 1)),
        "command_type": "SetStock",
        "account": ACCOUNT,
        "sku": f"SKU-{n % 37}",
        "available": n,
        **fields,
    }


async def produce_offer_commands(config: KafkaConfig) -> None:
    values = [json.dumps(command(n)).encode() for n in range(VALID)]
    values += [json.dumps(command(VALID + n, account="other")).encode() for n in range(FOREIGN)]
    values += [json.dumps(command(2 * VALID + n, available=-1)).encode() for n in range(REFUSED)]
    values += [b"{not json"] * UNREADABLE
    producer = AIOKafkaProducer(
        bootstrap_servers=config.bootstrap_servers, enable_idempotence=False
    )
    await producer.start()
    try:
        for n, value in enumerate(values):
            await producer.send(config.topic_offer_commands, value, key=f"SKU-{n % 37}".encode())
        await producer.flush()
    finally:
        await producer.stop()


async def test_offer_commands_are_read_up_to_a_thousand_at_a_time_in_order_and_rewound(
    offer_topics: KafkaConfig,
) -> None:
    await produce_offer_commands(offer_topics)
    total = VALID + FOREIGN + REFUSED + UNREADABLE
    group = f"test-{uuid.uuid4().hex[:8]}"
    received: list[Received[OfferCommand]] = []
    sizes: list[int] = []
    async with aiokafka_offer_command_source(offer_topics, group, ACCOUNT) as source:
        deadline = time.monotonic() + 30
        while len(received) < total and time.monotonic() < deadline:
            batch = await source.receive(1.0)
            if batch:
                sizes.append(len(batch))
                received += batch
                for partition in {r.position.partition for r in batch}:
                    last = max(
                        r.position.offset for r in batch if r.position.partition == partition
                    )
                    await source.commit(Position(partition, last))
        assert source.lag() == 0
        # an outage held a record: rewound, it and what follows it are delivered again
        source.rewind(received[0].position)
        again: list[Received[OfferCommand]] = []
        while not again and time.monotonic() < deadline:
            again = list(await source.receive(1.0))

    assert len(received) == total
    assert max(sizes) > 100, sizes  # more than the order commands' 100 per receive
    assert max(sizes) <= 1_000, sizes
    commands = [r.command for r in received if r.command is not None]
    assert len(commands) == VALID
    assert all(isinstance(c, SetStock) and c.account == ACCOUNT for c in commands)
    assert sum(r.foreign for r in received) == FOREIGN
    assert sum(r.refused is not None for r in received) == REFUSED
    assert sum(r.unreadable is not None for r in received) == UNREADABLE
    assert again[0] == received[0]
    for partition in {r.position.partition for r in received}:
        offsets = [r.position.offset for r in received if r.position.partition == partition]
        assert offsets == sorted(offsets) == list(range(offsets[0], offsets[0] + len(offsets)))


async def test_offer_changes_are_written_to_the_offers_topic(offer_topics: KafkaConfig) -> None:
    messages = KafkaOfferEncoder().encode_offers([make_offer_changed()])

    async with AiokafkaEventPublisher(offer_topics) as publisher:
        await publisher.send(messages)

    records = await read_topic(offer_topics.bootstrap_servers, offer_topics.topic_offers)
    assert [(r.key, r.value, r.headers) for r in records] == [
        (m.key, m.value, m.headers) for m in messages
    ]
    assert await read_topic(offer_topics.bootstrap_servers, offer_topics.topic_orders) == []


async def test_the_offer_topics_are_created_and_the_offers_topic_is_probed(
    offer_topics: KafkaConfig,
) -> None:
    probe = await probe_kafka(offer_topics, request_timeout=5.0)

    facts = {topic.name: topic for topic in probe.topics}
    assert facts[offer_topics.topic_offers].partitions == 3
    assert facts[offer_topics.topic_offers].leaderless == 0
    without_offers = await probe_kafka(offer_topics, request_timeout=5.0, offers=False)
    assert [t.name for t in without_offers.topics] == [
        offer_topics.topic_orders,
        offer_topics.topic_dlq,
    ]
    # the topic the source reads exists too: reading it finds it (empty), not a timeout
    assert await read_topic(offer_topics.bootstrap_servers, offer_topics.topic_offer_commands) == []
