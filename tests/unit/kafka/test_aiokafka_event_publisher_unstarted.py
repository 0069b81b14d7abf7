"""Using the Kafka publisher before `start()` is a wiring bug: it fails loudly, at once."""

from __future__ import annotations

import pytest

from adapters.kafka.aiokafka_event_publisher import AiokafkaEventPublisher, PublisherNotStarted
from adapters.kafka.config import KafkaConfig
from application.ports.errors import PublishError
from application.ports.publisher import publish, publish_dead_letters
from tests.support.builders import make_dead_letter, make_order_imported

# Nothing listens here: the publisher must not even try to connect.
CONFIG = KafkaConfig(bootstrap_servers="127.0.0.1:9")


async def test_publish_before_start_raises() -> None:
    publisher = AiokafkaEventPublisher(CONFIG)

    with pytest.raises(PublisherNotStarted, match="start"):
        await publish(publisher, [make_order_imported()])


async def test_publish_dead_letters_before_start_raises() -> None:
    publisher = AiokafkaEventPublisher(CONFIG)

    with pytest.raises(PublisherNotStarted):
        await publish_dead_letters(publisher, [make_dead_letter()])


async def test_even_an_empty_batch_needs_a_started_publisher() -> None:
    publisher = AiokafkaEventPublisher(CONFIG)

    with pytest.raises(PublisherNotStarted):
        await publish(publisher, [])


async def test_not_started_is_a_programming_error_not_an_outage() -> None:
    assert issubclass(PublisherNotStarted, RuntimeError)
    assert not issubclass(PublisherNotStarted, PublishError)


async def test_an_unstarted_publisher_is_not_healthy() -> None:
    assert await AiokafkaEventPublisher(CONFIG).healthy() is False
