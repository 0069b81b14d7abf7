"""The command topic's consumer against the real broker: records delivered in partition order,
offsets committed by hand, and the lag it reports after each round."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from adapters.kafka.aiokafka_command_source import AiokafkaCommandSource

pytestmark = pytest.mark.integration

ACCOUNT = "shop-1"


async def produce(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for n in range(count):
            command = {
                "command_id": str(uuid.uuid4()),
                "command_type": "SetFulfillmentStatus",
                "account": ACCOUNT,
                "checkout_form_id": f"order-{n % 7}",
                "status": "PROCESSING",
            }
            await producer.send(topic, json.dumps(command).encode(), key=f"order-{n % 7}".encode())
        await producer.flush()
    finally:
        await producer.stop()


async def test_the_lag_is_what_the_topic_holds_beyond_what_was_delivered(kafka_topics) -> None:
    await produce(kafka_topics.bootstrap_servers, kafka_topics.topic_commands, 150)
    group = f"test-{uuid.uuid4().hex[:8]}"
    source = AiokafkaCommandSource(kafka_topics, kafka_topics.topic_commands, group, ACCOUNT)
    delivered = 0
    lags: list[int] = []
    async with source:
        deadline = time.monotonic() + 30
        while delivered < 150 and time.monotonic() < deadline:
            received = await source.receive(1.0)
            delivered += len(received)
            assert all(r.command is not None for r in received)
            lag = source.lag()
            if lag is not None:
                assert lag == 150 - delivered
                lags.append(lag)
            if received:
                await source.commit(received[-1].position)
        assert delivered == 150
        assert source.lag() == 0
    assert any(lag > 0 for lag in lags), lags  # a round left records on the topic
