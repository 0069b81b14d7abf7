"""AiokafkaEventPublisher against a real broker: the bytes on the wire and the lifecycle."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder

from adapters.kafka.admin import ensure_topics
from adapters.kafka.aiokafka_event_publisher import (
    AiokafkaEventPublisher,
    PublisherNotStarted,
    partition_of,
)
from adapters.kafka.config import KafkaConfig
from adapters.kafka.messages import (
    DEFAULT_MAX_MESSAGE_BYTES,
    MIN_MAX_MESSAGE_BYTES,
    KafkaRecord,
    encode_dead_letter,
    encode_event,
    record_size,
)
from application.ports.errors import PublishError
from application.ports.publisher import ORDERS, OutboundMessage, publish, publish_dead_letters
from domain.events import DomainEvent
from sandbox.kafka_broker import EmbeddedBroker
from tests.support.builders import (
    make_dead_letter,
    make_order_imported,
    make_order_status_changed,
    make_order_with_line_items,
)
from tests.support.kafka_reader import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def private_broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test's own, which it may kill."""
    with EmbeddedBroker() as broker:
        yield broker


def unused_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


async def test_records_carry_the_contract_key_value_and_headers(kafka_topics: KafkaConfig) -> None:
    imported = make_order_imported()
    changed = make_order_status_changed()

    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        await publish(publisher, [imported, changed])

    records = await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    expected = [encode_event(imported), encode_event(changed)]
    assert [(r.key, r.value, list(r.headers)) for r in records] == [
        (e.key, e.value, e.headers) for e in expected
    ]
    assert records[0].partition == records[1].partition


async def test_dead_letters_go_to_the_dead_letter_topic(kafka_topics: KafkaConfig) -> None:
    letter = make_dead_letter()

    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        await publish_dead_letters(publisher, [letter])

    records = await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_dlq)
    expected = encode_dead_letter(letter)
    assert [(r.key, r.value, list(r.headers)) for r in records] == [
        (expected.key, expected.value, expected.headers)
    ]
    assert await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders) == []


async def test_a_replay_publishes_byte_identical_values(kafka_topics: KafkaConfig) -> None:
    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        await publish(publisher, [make_order_imported()])
    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        await publish(publisher, [make_order_imported()])

    first, second = await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    assert (first.key, first.value, first.headers) == (second.key, second.value, second.headers)


async def test_publishing_after_stop_fails_loudly(kafka_topics: KafkaConfig) -> None:
    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        await publish(publisher, [make_order_imported()])

    with pytest.raises(PublisherNotStarted):
        await publish(publisher, [make_order_imported()])


async def test_start_and_stop_are_idempotent(kafka_topics: KafkaConfig) -> None:
    publisher = AiokafkaEventPublisher(kafka_topics)

    await publisher.start()
    await publisher.start()
    await publish(publisher, [make_order_imported()])
    await publisher.stop()
    await publisher.stop()

    records = await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    assert len(records) == 1


async def test_starting_without_a_reachable_broker_is_a_publish_error() -> None:
    publisher = AiokafkaEventPublisher(
        KafkaConfig(bootstrap_servers=unused_address(), request_timeout_ms=1000)
    )

    with pytest.raises(PublishError, match="could not start"):
        await publisher.start()

    assert await publisher.healthy() is False


async def test_healthy_follows_the_broker(private_broker: EmbeddedBroker) -> None:
    config = KafkaConfig(
        bootstrap_servers=private_broker.bootstrap_servers,
        enable_idempotence=False,
        request_timeout_ms=1000,
    )
    async with AiokafkaEventPublisher(config) as publisher:
        assert await publisher.healthy() is True

        private_broker.kill()

        assert await publisher.healthy() is False


async def test_a_broker_that_dies_mid_session_is_a_chained_publish_error(
    private_broker: EmbeddedBroker,
) -> None:
    config = KafkaConfig(
        bootstrap_servers=private_broker.bootstrap_servers,
        topic_orders="orders",
        topic_dlq="dlq",
        enable_idempotence=False,
        request_timeout_ms=1000,
    )
    await ensure_topics(config)
    async with AiokafkaEventPublisher(config) as publisher:
        await publish(publisher, [make_order_imported()])
        private_broker.kill()

        with pytest.raises(PublishError, match="did not acknowledge") as caught:
            await publish(publisher, [make_order_imported(), make_order_status_changed()])

    assert caught.value.__cause__ is not None


async def test_idempotent_producer_publishes(
    kafka_topics: KafkaConfig, kafka_supports_idempotence: bool
) -> None:
    if not kafka_supports_idempotence:
        pytest.skip("this broker does not support idempotent producers (InitProducerId)")
    config = dataclasses.replace(kafka_topics, enable_idempotence=True)

    async with AiokafkaEventPublisher(config) as publisher:
        await publish(publisher, [make_order_imported()])

    assert len(await read_topic(config.bootstrap_servers, config.topic_orders)) == 1


async def test_a_broker_refusing_idempotence_is_a_publish_error_at_start(
    kafka_topics: KafkaConfig, kafka_supports_idempotence: bool
) -> None:
    if kafka_supports_idempotence:
        pytest.skip("this broker supports idempotent producers")
    config = dataclasses.replace(kafka_topics, enable_idempotence=True)
    publisher = AiokafkaEventPublisher(config)

    with pytest.raises(PublishError) as caught:
        await publisher.start()

    assert caught.value.__cause__ is not None


def keyed(n: int, *, key: str | None = None, size: int = 100) -> OutboundMessage:
    value = json.dumps({"n": n, "pad": "x" * size}).encode()
    return OutboundMessage(ORDERS, (key or f"order-{n}").encode(), value, (("ce_id", b"%d" % n),))


async def test_each_record_lands_on_the_partition_aiokafkas_send_would_pick(
    kafka_topics: KafkaConfig,
) -> None:
    messages = [keyed(n) for n in range(60)]
    plain_topic = f"{kafka_topics.topic_orders}.plain"
    await ensure_topics(dataclasses.replace(kafka_topics, topic_orders=plain_topic))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_topics.bootstrap_servers)
    await producer.start()
    try:  # the reference: one `send` per record, aiokafka's default partitioner
        await asyncio.gather(
            *[await producer.send(plain_topic, m.value, key=m.key) for m in messages]
        )
    finally:
        await producer.stop()

    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        await publisher.send(messages)

    servers = kafka_topics.bootstrap_servers
    ours = await read_topic(servers, kafka_topics.topic_orders, min_records=60)
    plain = await read_topic(servers, plain_topic, min_records=60)
    assert {r.key: r.partition for r in ours} == {r.key: r.partition for r in plain}
    assert len({r.partition for r in ours}) == 3  # the keys spread over every partition


async def test_records_of_one_key_keep_their_order_across_many_batches(
    kafka_topics: KafkaConfig,
) -> None:
    # 2 KB values: a 16 KB aiokafka batch holds a handful, so this takes dozens of batches.
    messages = [keyed(n, key=f"order-{n % 4}", size=2000) for n in range(300)]
    big = keyed(300, key="order-0", size=64_000)  # bigger than a whole batch

    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        await publisher.send([*messages, big])

    records = await read_topic(kafka_topics.bootstrap_servers, kafka_topics.topic_orders)
    sent = [*messages, big]
    for key in {m.key for m in sent}:
        assert [r.value for r in records if r.key == key] == [m.value for m in sent if m.key == key]
    assert len(records) == 301


def test_a_topic_of_one_partition_needs_no_hash() -> None:
    assert partition_of(b"any key", [0]) == 0
    assert partition_of(b"any key", [0, 1, 2]) == (murmur2(b"any key") & 0x7FFFFFFF) % 3


async def test_a_record_no_batch_takes_is_a_publish_error_not_a_silent_drop(
    kafka_topics: KafkaConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BatchBuilder, "append", lambda self, **kwargs: None)

    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        with pytest.raises(PublishError, match="fits no Kafka batch"):
            await publisher.send([keyed(1)])


@pytest.mark.parametrize("codec", ["zstd", "lz4", "snappy", None])
async def test_every_compression_codec_reaches_a_consumer_intact(
    kafka_topics: KafkaConfig, codec: str | None
) -> None:
    config = dataclasses.replace(kafka_topics, compression_type=codec)
    messages = [keyed(n, size=500) for n in range(20)]

    async with AiokafkaEventPublisher(config) as publisher:
        await publisher.send(messages)

    records = await read_topic(config.bootstrap_servers, config.topic_orders, min_records=20)
    assert sorted(r.value for r in records) == sorted(m.value for m in messages)


# --- Records too large ------------------------------------------------------------------------

BIG_ORDER_ID = "order-with-5000-line-items"
# Bounds the calls below: an oversize record must never keep one from returning.
RETURNS_WITHIN_SECONDS = 30


def size_of(record: Any) -> int:
    return record_size(KafkaRecord(record.key or b"", record.value or b"", list(record.headers)))


async def test_an_order_with_thousands_of_line_items_goes_to_the_dlq_and_the_rest_are_published(
    kafka_topics: KafkaConfig,
) -> None:
    big = make_order_with_line_items(5000, external_id=BIG_ORDER_ID)
    normal: list[DomainEvent] = [make_order_imported(external_id=f"order-{n}") for n in range(20)]
    later = make_order_status_changed(external_id="order-3")
    assert record_size(encode_event(big)) > DEFAULT_MAX_MESSAGE_BYTES  # ~1.3 MB

    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        async with asyncio.timeout(RETURNS_WITHIN_SECONDS):
            await publish(publisher, [*normal[:10], big, *normal[10:], later])

    servers = kafka_topics.bootstrap_servers
    orders = await read_topic(servers, kafka_topics.topic_orders, min_records=21)
    assert sorted(r.value for r in orders) == sorted(
        encode_event(e).value for e in [*normal, later]
    )
    [stub] = await read_topic(servers, kafka_topics.topic_dlq, min_records=1)
    assert stub.key == BIG_ORDER_ID.encode()
    assert size_of(stub) <= DEFAULT_MAX_MESSAGE_BYTES
    value = stub.json()
    assert (value["event_id"], value["event_type"], value["truncated"]) == (
        str(big.event_id),
        "OrderImported",
        True,
    )
    assert value["raw_payload_sha256"] == hashlib.sha256(encode_event(big).value).hexdigest()
    assert "over the maximum message size" in value["error"]


def broker_refusing_batches_over(monkeypatch: pytest.MonkeyPatch, limit: int) -> list[int]:
    """Batches over `limit` bytes get the answer of a Kafka broker whose `max.message.bytes`
    is `limit`: MESSAGE_TOO_LARGE, which aiokafka's sender sets on the batch's future as a
    `MessageSizeTooLargeError`. Tansu has no such limit (it stores a 20 MB record, and ignores
    a topic's `max.message.bytes`), so that answer is given here; the other batches go to the
    real broker. Returns the sizes of the batches refused."""
    real_send_batch = AIOKafkaProducer.send_batch
    refused: list[int] = []

    async def send_batch(
        self: AIOKafkaProducer, batch: BatchBuilder, topic: str, *, partition: int
    ) -> asyncio.Future[Any]:
        if batch.size() <= limit:
            return await real_send_batch(self, batch, topic, partition=partition)
        refused.append(batch.size())
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        answer.set_exception(MessageSizeTooLargeError())
        return answer

    monkeypatch.setattr(AIOKafkaProducer, "send_batch", send_batch)
    return refused


async def test_a_record_the_broker_refuses_as_too_large_is_dead_lettered_and_the_rest_published(
    kafka_topics: KafkaConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = broker_refusing_batches_over(monkeypatch, 100_000)
    big = keyed(99, key=BIG_ORDER_ID, size=200_000)  # under our 1 MB limit: staged, sent
    messages = [*(keyed(n) for n in range(5)), big, *(keyed(n) for n in range(5, 10))]

    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        async with asyncio.timeout(RETURNS_WITHIN_SECONDS):
            await publisher.send(messages)

    assert len(refused) == 1
    servers = kafka_topics.bootstrap_servers
    orders = await read_topic(servers, kafka_topics.topic_orders, min_records=10)
    assert sorted(r.value for r in orders) == sorted(m.value for m in messages if m is not big)
    [stub] = await read_topic(servers, kafka_topics.topic_dlq, min_records=1)
    assert stub.key == BIG_ORDER_ID.encode()
    assert size_of(stub) <= MIN_MAX_MESSAGE_BYTES
    value = stub.json()
    assert "Kafka refused the record" in value["error"]
    assert "MessageSizeTooLargeError" in value["error"]
    assert value["raw_payload_sha256"] == hashlib.sha256(big.value).hexdigest()
    assert big.value.startswith(value["raw_payload"].encode())


async def test_a_broker_refusing_even_the_stub_is_a_publish_error_not_a_silent_drop(
    kafka_topics: KafkaConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker_refusing_batches_over(monkeypatch, 4_000)  # below any stub of a big record

    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        with pytest.raises(PublishError, match="even the dead-letter stubs"):
            await publisher.send([keyed(1), keyed(2, size=200_000)])


async def test_a_refused_batch_of_several_records_is_an_outage(
    kafka_topics: KafkaConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Several records share a batch only up to aiokafka's 16 KB: a broker refusing that
    # refuses ordinary orders, and no record can be blamed.
    broker_refusing_batches_over(monkeypatch, 5_000)

    async with AiokafkaEventPublisher(kafka_topics) as publisher:
        with pytest.raises(PublishError, match="did not acknowledge") as caught:
            await publisher.send([keyed(n, key="order-1", size=2_000) for n in range(8)])

    assert isinstance(caught.value.__cause__, MessageSizeTooLargeError)
