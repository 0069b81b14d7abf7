"""Topic bootstrap: create the orders and dead-letter topics when they are missing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from adapters.kafka.config import KafkaConfig, connection_options
from application.ports.errors import PublishError

logger = logging.getLogger(__name__)

_NO_ERROR = 0


class TopicSetupError(PublishError):
    """The topics could not be listed or created."""


async def ensure_topics(
    config: KafkaConfig, partitions: int = 3, replication_factor: int = 1
) -> None:
    """Create `topic_orders` and `topic_dlq` unless they exist. Safe to call concurrently."""
    if partitions < 1 or replication_factor < 1:
        raise ValueError("partitions and replication_factor must be at least 1")
    wanted = [config.topic_orders, config.topic_dlq]
    admin = AIOKafkaAdminClient(**connection_options(config))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(topic, partitions, replication_factor) for topic in missing]
            )
            _raise_for_errors(response.topic_errors)
            logger.info("kafka topics created", extra={"topics": missing})
    except (KafkaError, TimeoutError, OSError) as exc:
        raise TopicSetupError(f"cannot create Kafka topics {wanted}: {exc!r}") from exc
    finally:
        await admin.close()


def _raise_for_errors(topic_errors: Sequence[Sequence[Any]]) -> None:
    for topic, code, *message in topic_errors:
        # Another process may have created it between our listing and our request.
        if code in (_NO_ERROR, TopicAlreadyExistsError.errno):
            continue
        detail = message[0] if message and message[0] else for_code(code).__name__
        raise TopicSetupError(f"cannot create Kafka topic {topic}: {detail} (code {code})")
