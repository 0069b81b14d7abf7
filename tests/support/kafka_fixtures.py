"""Pytest fixtures for a real Kafka-compatible broker, shared by the whole session.

- `kafka_broker` (session): `BrokerInfo` of the broker found by `tests.support.broker`.
- `kafka_bootstrap` (session): its bootstrap servers.
- `kafka_supports_idempotence` (session): False for the embedded tansu broker.
- `kafka_topics` (function): a `KafkaConfig` with fresh orders and dead-letter topics.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from adapters.kafka.admin import ensure_topics
from adapters.kafka.config import KafkaConfig
from tests.support.broker import BrokerInfo, session_broker

TEST_REQUEST_TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[BrokerInfo]:
    with session_broker() as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: BrokerInfo) -> str:
    return kafka_broker.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_supports_idempotence(kafka_broker: BrokerInfo) -> bool:
    return kafka_broker.supports_idempotence


@pytest.fixture
async def kafka_topics(kafka_bootstrap: str, kafka_supports_idempotence: bool) -> KafkaConfig:
    suffix = uuid.uuid4().hex[:12]
    config = KafkaConfig(
        bootstrap_servers=kafka_bootstrap,
        topic_orders=f"test.orders.{suffix}",
        topic_dlq=f"test.orders.dlq.{suffix}",
        topic_commands=f"test.commands.{suffix}",
        topic_command_results=f"test.command-results.{suffix}",
        topic_offer_commands=f"test.offer-commands.{suffix}",
        topic_offers=f"test.offers.{suffix}",
        enable_idempotence=kafka_supports_idempotence,
        request_timeout_ms=TEST_REQUEST_TIMEOUT_MS,
    )
    await ensure_topics(config)
    return config
