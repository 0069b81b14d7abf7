"""Topic bootstrap: create the service's topics when they are missing; and the read-only
probe of `openoms-allegro check` (`probe_kafka`)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, NoError, TopicAlreadyExistsError, for_code
from aiokafka.protocol.transaction import InitProducerIdRequest
from aiokafka.structs import TopicPartition

from adapters.kafka.config import KafkaConfig, connection_options
from application.ports.errors import PublishError

logger = logging.getLogger(__name__)

_NO_ERROR = 0


class TopicSetupError(PublishError):
    """The topics could not be listed or created."""


async def ensure_topics(
    config: KafkaConfig, partitions: int = 3, replication_factor: int = 1
) -> None:
    """Create the topics we write (orders, dead letters, command results, offers) and the
    ones we read (commands, offer commands) unless they exist. Safe to call concurrently."""
    if partitions < 1 or replication_factor < 1:
        raise ValueError("partitions and replication_factor must be at least 1")
    wanted = [
        config.topic_orders,
        config.topic_dlq,
        config.topic_command_results,
        config.topic_commands,
        config.topic_offers,
        config.topic_offer_commands,
    ]
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


class KafkaUnreachable(PublishError):
    """No broker of KAFKA_BOOTSTRAP_SERVERS answered (within the probe's time)."""


@dataclass(frozen=True, slots=True)
class TopicFacts:
    name: str
    partitions: int  # 0: the topic does not exist
    leaderless: int  # partitions without a leader: writes to them fail
    authorized: bool = True


@dataclass(frozen=True, slots=True)
class KafkaProbe:
    """What `probe_kafka` learnt. `idempotence`: None when not asked (idempotence is off),
    "" when the broker gave a producer id, else the error it answered with."""

    brokers: int
    topics: tuple[TopicFacts, ...]
    idempotence: str | None


async def probe_kafka(
    config: KafkaConfig, request_timeout: float, *, offers: bool = True
) -> KafkaProbe:
    """Reads the cluster's metadata (brokers, the topics events are published to: orders,
    dead letters and, unless `offers` is False (offers not kept in sync), offers; and their
    partition leaders)
    and, when KAFKA_ENABLE_IDEMPOTENCE is on, asks for a producer id (InitProducerId), which
    an idempotent producer needs before its first write: a broker that refuses it (tansu
    does) makes every publish fail. It writes nothing: whether the broker accepts a record
    (ACLs, quotas, disk) is only known by writing one, which a check must not do to the
    topics the consumers read.

    The metadata request names no topic (all of them), so a broker with
    `auto.create.topics.enable` creates nothing. Raises KafkaUnreachable when no broker
    answers within `request_timeout` seconds per request (the caller bounds the whole)."""
    options = connection_options(
        dataclasses.replace(config, request_timeout_ms=max(int(request_timeout * 1000), 1))
    )
    client = AIOKafkaClient(**options)
    try:
        await client.bootstrap()
        cluster = await client.fetch_all_metadata()
        names = [config.topic_orders, config.topic_dlq]
        if offers:
            names.append(config.topic_offers)
        topics = tuple(_topic_facts(cluster, name) for name in names)
        idempotence = await _init_producer_id(client) if config.enable_idempotence else None
    except (TimeoutError, KafkaError, OSError) as exc:
        raise KafkaUnreachable(
            f"no broker of {config.bootstrap_servers} answered ({type(exc).__name__})"
        ) from exc
    finally:
        await client.close()
    return KafkaProbe(brokers=len(cluster.brokers()), topics=topics, idempotence=idempotence)


def _topic_facts(cluster: Any, name: str) -> TopicFacts:
    if name in cluster.unauthorized_topics:
        return TopicFacts(name, 0, 0, authorized=False)
    partitions = cluster.partitions_for_topic(name) or set()
    leaderless = sum(
        1
        for partition in partitions
        if cluster.leader_for_partition(TopicPartition(name, partition)) in (None, -1)
    )
    return TopicFacts(name, len(partitions), leaderless)


async def _init_producer_id(client: AIOKafkaClient) -> str:
    """ "" when a broker hands out a producer id, else the name of the error it answered."""
    node = client.get_random_node()
    request = InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60_000)
    response = await client.send(node, request)
    error = for_code(response.error_code)
    return "" if error is NoError else error.__name__
