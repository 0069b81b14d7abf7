"""EventPublisher on aiokafka: acks=all, and a batch returns only once every record is acked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from adapters.kafka.config import KafkaConfig, producer_options
from adapters.kafka.messages import KafkaRecord, encode_dead_letter, encode_event
from application.ports.errors import PublishError
from application.ports.publisher import (
    DEAD_LETTERS,
    ORDERS,
    DeadLetter,
    EventPublisher,
    OutboundMessage,
)
from domain.events import DomainEvent

logger = logging.getLogger(__name__)

# What a broker outage looks like from aiokafka: its own errors, timeouts, socket errors.
_BROKER_ERRORS = (KafkaError, TimeoutError, OSError)
_DEFAULT_PARTITIONER = DefaultPartitioner()


class PublisherNotStarted(RuntimeError):
    """The publisher was used before `start()` (or after `stop()`): a wiring bug."""


class AiokafkaEventPublisher(EventPublisher):
    def __init__(self, config: KafkaConfig) -> None:
        self._config = config
        self._producer: AIOKafkaProducer | None = None

    @property
    def config(self) -> KafkaConfig:
        return self._config

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(**producer_options(self._config))
        try:
            await producer.start()
        except _BROKER_ERRORS as exc:
            await producer.stop()
            raise PublishError(
                f"Kafka producer could not start ({self._config.bootstrap_servers}): {exc!r}"
            ) from exc
        self._producer = producer
        logger.info(
            "kafka producer started",
            extra={
                "bootstrap_servers": self._config.bootstrap_servers,
                "topic_orders": self._config.topic_orders,
                "topic_dlq": self._config.topic_dlq,
                "idempotence": self._config.enable_idempotence,
            },
        )

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
            logger.info("kafka producer stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def encode(
        self, events: Sequence[DomainEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        return [_outbound(ORDERS, encode_event(e)) for e in events] + [
            _outbound(DEAD_LETTERS, encode_dead_letter(d)) for d in dead_letters
        ]

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        producer = self._started()
        topics = {ORDERS: self._config.topic_orders, DEAD_LETTERS: self._config.topic_dlq}
        await self._send_all(producer, [(topics[m.channel], m) for m in messages])
        logger.debug(
            "records acknowledged",
            extra={
                "orders": sum(m.channel == ORDERS for m in messages),
                "dead_letters": sum(m.channel == DEAD_LETTERS for m in messages),
            },
        )

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        await self.send(self.encode(events))

    async def publish_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        await self.send(self.encode((), letters))
        logger.info(
            "dead letters acknowledged",
            extra={
                "topic": self._config.topic_dlq,
                "count": len(letters),
                "checkout_form_ids": [letter.checkout_form_id for letter in letters],
            },
        )

    async def healthy(self) -> bool:
        """True when the producer is started and the cluster answers a metadata request."""
        producer = self._producer
        if producer is None:
            return False
        try:
            async with asyncio.timeout(self._config.request_timeout_ms / 1000):
                await producer.client.fetch_all_metadata()
        except _BROKER_ERRORS:
            return False
        return True

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise PublisherNotStarted(
                "AiokafkaEventPublisher is not started: call `await publisher.start()` "
                "(or use it as an async context manager) first"
            )
        return self._producer

    async def _send_all(
        self, producer: AIOKafkaProducer, records: list[tuple[str, OutboundMessage]]
    ) -> None:
        """Enqueue every record, then wait for every acknowledgement (or the first failure).

        Records go in aiokafka batches filled here, one partition at a time, rather than one
        `send` each (a future, a partitioner call and an accumulator pass per record): each
        record lands on the partition `send` would pick (`partition_of`), in its order."""
        deliveries: list[asyncio.Future[Any]] = []
        try:
            by_partition: dict[tuple[str, int], list[OutboundMessage]] = {}
            partitions: dict[str, list[int]] = {}
            for topic, record in records:
                if topic not in partitions:
                    partitions[topic] = sorted(await producer.partitions_for(topic))
                target = (topic, partition_of(record.key, partitions[topic]))
                by_partition.setdefault(target, []).append(record)
            for (topic, partition), in_order in by_partition.items():
                for batch in _batches(producer, in_order):
                    deliveries.append(await producer.send_batch(batch, topic, partition=partition))
            await asyncio.gather(*deliveries)
        except PublishError:
            await _settle(deliveries)
            raise
        except _BROKER_ERRORS as exc:
            await _settle(deliveries)
            raise PublishError(
                f"Kafka did not acknowledge {len(records)} record(s): {exc!r}"
            ) from exc


def _batches(producer: AIOKafkaProducer, records: list[OutboundMessage]) -> Iterator[BatchBuilder]:
    """The records, in order, in as few aiokafka batches as their size allows."""
    batch = producer.create_batch()
    for record in records:
        while not _append(batch, record):  # full: hand it over, start the next one
            if batch.record_count() == 0:  # aiokafka lets one record overfill a batch
                raise PublishError(f"a record of {len(record.value)} bytes fits no Kafka batch")
            yield batch
            batch = producer.create_batch()
    yield batch


def partition_of(key: bytes, partitions: list[int]) -> int:
    """The partition aiokafka's (and the Java client's) default partitioner gives a keyed
    record: murmur2 of the key over the topic's sorted partitions."""
    if len(partitions) == 1:
        return partitions[0]
    return int(_DEFAULT_PARTITIONER(key, partitions, partitions))


def _append(batch: BatchBuilder, record: OutboundMessage) -> bool:
    metadata = batch.append(
        key=record.key, value=record.value, timestamp=None, headers=list(record.headers)
    )
    return metadata is not None


def _outbound(channel: str, record: KafkaRecord) -> OutboundMessage:
    return OutboundMessage(channel, record.key, record.value, tuple(record.headers))


async def _settle(deliveries: list[asyncio.Future[Any]]) -> None:
    """Wait for the deliveries still in flight so none of their errors goes unretrieved."""
    await asyncio.gather(*deliveries, return_exceptions=True)
