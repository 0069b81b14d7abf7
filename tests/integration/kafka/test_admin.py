"""ensure_topics against a real broker."""

from __future__ import annotations

import socket
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from adapters.kafka.admin import TopicSetupError, ensure_topics
from adapters.kafka.config import KafkaConfig

pytestmark = pytest.mark.integration


def fresh_config(bootstrap_servers: str) -> KafkaConfig:
    suffix = uuid.uuid4().hex[:12]
    return KafkaConfig(
        bootstrap_servers=bootstrap_servers,
        topic_orders=f"admin.orders.{suffix}",
        topic_dlq=f"admin.dlq.{suffix}",
        request_timeout_ms=5000,
    )


async def partition_counts(bootstrap_servers: str, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


async def test_creates_both_topics(kafka_bootstrap: str) -> None:
    config = fresh_config(kafka_bootstrap)

    await ensure_topics(config, partitions=2)

    topics = [config.topic_orders, config.topic_dlq]
    assert await partition_counts(kafka_bootstrap, topics) == dict.fromkeys(topics, 2)


async def test_is_idempotent_and_leaves_existing_topics_alone(kafka_bootstrap: str) -> None:
    config = fresh_config(kafka_bootstrap)
    await ensure_topics(config, partitions=3)

    await ensure_topics(config, partitions=5)

    topics = [config.topic_orders, config.topic_dlq]
    assert await partition_counts(kafka_bootstrap, topics) == dict.fromkeys(topics, 3)


async def test_an_unreachable_broker_is_a_topic_setup_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(TopicSetupError, match="cannot create Kafka topics"):
        await ensure_topics(KafkaConfig(bootstrap_servers=f"127.0.0.1:{port}"))


async def test_nonsense_sizes_are_refused(kafka_bootstrap: str) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await ensure_topics(fresh_config(kafka_bootstrap), partitions=0)
