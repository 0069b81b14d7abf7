"""Fixtures shared by the fault tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from adapters.kafka.admin import ensure_topics
from adapters.kafka.config import KafkaConfig
from sandbox.kafka_broker import EmbeddedBroker, EmbeddedBrokerUnavailable


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of the test's own, which it may stop: the session broker is never stopped."""
    try:
        broker = EmbeddedBroker().start()
    except EmbeddedBrokerUnavailable as exc:
        pytest.skip(f"no embedded broker: {exc}")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def own_kafka(own_broker: EmbeddedBroker) -> KafkaConfig:
    """The service's topics, created on `own_broker` (a restarted one is empty: create them
    again with `ensure_topics`)."""
    kafka = KafkaConfig(
        bootstrap_servers=own_broker.bootstrap_servers,
        topic_orders="own.orders",
        topic_dlq="own.orders.dlq",
        enable_idempotence=False,  # tansu rejects InitProducerId
    )
    asyncio.run(ensure_topics(kafka))
    return kafka
