"""The publisher against a real broker: the idempotence hint only where it is the likely
cause, and the publish observer told about every acknowledged send."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from adapters.kafka import AiokafkaEventPublisher
from adapters.kafka.aiokafka_event_publisher import IDEMPOTENCE_HINT
from adapters.kafka.config import KafkaConfig
from application.ports.errors import PublishError
from application.ports.publisher import ORDERS, OutboundMessage

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class Observer:
    def __init__(self) -> None:
        self.sends: list[tuple[float, int]] = []

    def publish_done(self, seconds: float, records: int) -> None:
        self.sends.append((seconds, records))


def message(n: int) -> OutboundMessage:
    return OutboundMessage(ORDERS, f"cf-{n}".encode(), b'{"n": %d}' % n, ())


async def test_idempotence_refused_by_the_broker_names_the_setting(
    kafka_topics: KafkaConfig, kafka_supports_idempotence: bool
) -> None:
    if kafka_supports_idempotence:
        pytest.skip("the test broker supports idempotent producers")
    publisher = AiokafkaEventPublisher(dataclasses.replace(kafka_topics, enable_idempotence=True))

    with pytest.raises(PublishError) as caught:
        await publisher.start()

    assert str(caught.value).endswith(f"; {IDEMPOTENCE_HINT}")
    assert "KAFKA_ENABLE_IDEMPOTENCE=false" in str(caught.value)


async def test_an_unreachable_broker_gets_no_idempotence_hint() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = KafkaConfig(f"127.0.0.1:{port}", enable_idempotence=True, request_timeout_ms=2000)

    with pytest.raises(PublishError) as caught:
        await AiokafkaEventPublisher(config).start()

    assert "KAFKA_ENABLE_IDEMPOTENCE" not in str(caught.value)


async def test_every_acknowledged_send_reaches_the_observer(kafka_topics: KafkaConfig) -> None:
    observer = Observer()
    async with AiokafkaEventPublisher(kafka_topics, observer=observer) as publisher:
        await publisher.send([message(n) for n in range(3)])
        await publisher.send([message(9)])

    assert [records for _, records in observer.sends] == [3, 1]
    assert all(0 < seconds < 30 for seconds, _ in observer.sends)
