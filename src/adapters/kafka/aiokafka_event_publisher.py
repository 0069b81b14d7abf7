"""Kafka's EventEncoder and MessageSender: acks=all; a batch returns once every record is acked.

No record is refused silently, and none blocks the others: an event over the maximum message
size is encoded as a dead-letter stub instead (before it is staged), and a record the broker
still refuses as too large is replaced by its stub while the rest of the batch goes through."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnknownError,
    UnsupportedVersionError,
)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from adapters.kafka.config import KafkaConfig, producer_options
from adapters.kafka.messages import (
    MIN_MAX_MESSAGE_BYTES,
    KafkaRecord,
    encode_dead_letter,
    encode_event,
    oversize_error,
    quarantine_record,
    record_size,
)
from application.ports.errors import PublishError
from application.ports.publisher import (
    COMMAND_RESULTS,
    DEAD_LETTERS,
    OFFERS,
    ORDERS,
    DeadLetter,
    EventPublisher,
    OutboundMessage,
)
from domain.events import DomainEvent

logger = logging.getLogger(__name__)

# What a broker outage looks like from aiokafka: its own errors, timeouts, socket errors.
_BROKER_ERRORS = (KafkaError, TimeoutError, OSError)
# The broker's (or aiokafka's) "too large": permanent for that record, never an outage.
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)
_DEFAULT_PARTITIONER = DefaultPartitioner()
# What a broker without idempotent producers answers to InitProducerId, which an idempotent
# producer sends at start (or before its first batch): tansu answers UnknownError, brokers
# older than the request (or than its version) UnsupportedVersion. Anything else (a refused
# connection, a timeout) is an ordinary outage and gets no hint.
_NO_IDEMPOTENCE = (UnknownError, UnsupportedVersionError)
IDEMPOTENCE_HINT = (
    "the broker does not support idempotent producers: set KAFKA_ENABLE_IDEMPOTENCE=false"
)


class PublishObserver(Protocol):
    """Metrics hook: told about every acknowledged `send`, how long it took from the first
    record handed to aiokafka to the last acknowledgement, and how many records it held."""

    def publish_done(self, seconds: float, records: int) -> None: ...


class PublisherNotStarted(RuntimeError):
    """The publisher was used before `start()` (or after `stop()`): a wiring bug."""


class AiokafkaEventPublisher(EventPublisher):
    def __init__(self, config: KafkaConfig, observer: PublishObserver | None = None) -> None:
        self._config = config
        self._observer = observer
        self._producer: AIOKafkaProducer | None = None
        # Until one send is acknowledged, an UnknownError/UnsupportedVersion may be the
        # broker refusing InitProducerId; afterwards the producer id is known to work.
        self._acknowledged = False

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
                f"Kafka producer could not start ({self._config.bootstrap_servers}): "
                f"{exc!r}{self._hint(exc)}"
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
        limit = self._config.max_message_bytes
        return [self._event_message(e) for e in events] + [
            _outbound(DEAD_LETTERS, encode_dead_letter(d, limit)) for d in dead_letters
        ]

    def _event_message(self, event: DomainEvent) -> OutboundMessage:
        """The event on the orders topic; or, over the maximum message size, its dead-letter
        stub (an order with thousands of line items must not hold up the others)."""
        record, limit = encode_event(event), self._config.max_message_bytes
        size = record_size(record)
        if size <= limit:
            return _outbound(ORDERS, record)
        self._log_dead_lettered(
            "event over the maximum message size, dead-lettered",
            record,
            size,
            event_id=str(event.event_id),
            event_type=event.event_type,
        )
        stub = quarantine_record(record, oversize_error(size, limit), limit)
        return _outbound(DEAD_LETTERS, stub)

    def _log_dead_lettered(self, text: str, record: KafkaRecord, size: int, **extra: str) -> None:
        logger.warning(
            text,
            extra={
                "checkout_form_id": record.key.decode("utf-8", errors="replace"),
                "bytes": size,
                "max_message_bytes": self._config.max_message_bytes,
                **extra,
            },
        )

    def _hint(self, error: BaseException) -> str:
        """The operator's fix, appended to an error that is likely the broker refusing an
        idempotent producer (idempotence on, nothing acknowledged yet, and its answer)."""
        if (
            self._config.enable_idempotence
            and not self._acknowledged
            and isinstance(error, _NO_IDEMPOTENCE)
        ):
            return f"; {IDEMPOTENCE_HINT}"
        return ""

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        producer = self._started()
        topics = topic_of_channel(self._config)
        started = time.monotonic()
        try:
            refused = await self._send_all(producer, [(topics[m.channel], m) for m in messages])
            if refused:
                await self._send_stubs(producer, refused)
        except PublishError as exc:
            cause = exc.__cause__
            hint = self._hint(cause) if cause is not None else ""
            if hint:
                raise PublishError(f"{exc}{hint}") from cause
            raise
        self._acknowledged = True
        if self._observer is not None:
            self._observer.publish_done(time.monotonic() - started, len(messages))
        logger.debug(
            "records acknowledged",
            extra={
                "orders": sum(m.channel == ORDERS for m in messages),
                "offers": sum(m.channel == OFFERS for m in messages),
                "dead_letters": sum(m.channel == DEAD_LETTERS for m in messages),
                "refused_as_too_large": len(refused),
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

    async def _send_stubs(
        self, producer: AIOKafkaProducer, refused: list[tuple[OutboundMessage, KafkaError]]
    ) -> None:
        """Dead-letter stubs for the records the broker refused as too large. Small ones (the
        broker's limit is below ours, so ours cannot be trusted): a broker refusing even
        those refuses ordinary orders too, an outage."""
        stubs = [(self._config.topic_dlq, self._stub_of_refused(m, exc)) for m, exc in refused]
        if await self._send_all(producer, stubs):
            raise PublishError(
                f"Kafka refused as too large even the dead-letter stubs (at most "
                f"{MIN_MAX_MESSAGE_BYTES} bytes) of {len(refused)} record(s) it refused: "
                f"check the max.message.bytes of topic {self._config.topic_dlq}"
            )

    def _stub_of_refused(self, message: OutboundMessage, error: KafkaError) -> OutboundMessage:
        record = KafkaRecord(message.key, message.value, list(message.headers))
        size = record_size(record)
        self._log_dead_lettered(
            "record refused by Kafka as too large, dead-lettered",
            record,
            size,
            channel=message.channel,
            error=type(error).__name__,
        )
        reason = (
            f"Kafka refused the record of {size} bytes as too large ({type(error).__name__}): "
            f"the broker's limit is below max_message_bytes={self._config.max_message_bytes}"
        )
        return _outbound(DEAD_LETTERS, quarantine_record(record, reason, MIN_MAX_MESSAGE_BYTES))

    async def _send_all(
        self, producer: AIOKafkaProducer, records: list[tuple[str, OutboundMessage]]
    ) -> list[tuple[OutboundMessage, KafkaError]]:
        """Enqueue every record, then wait for every acknowledgement; the records the broker
        refused as too large (each alone in its batch) are returned, any other failure is a
        PublishError once every batch has settled.

        Records go in aiokafka batches filled here, one partition at a time, rather than one
        `send` each (a future, a partitioner call and an accumulator pass per record): each
        record lands on the partition `send` would pick (`partition_of`), in its order."""
        deliveries: list[asyncio.Future[Any]] = []
        batches: list[list[OutboundMessage]] = []
        try:
            by_partition: dict[tuple[str, int], list[OutboundMessage]] = {}
            partitions: dict[str, list[int]] = {}
            for topic, record in records:
                if topic not in partitions:
                    partitions[topic] = sorted(await producer.partitions_for(topic))
                target = (topic, partition_of(record.key, partitions[topic]))
                by_partition.setdefault(target, []).append(record)
            for (topic, partition), in_order in by_partition.items():
                for batch, batched in _batches(producer, in_order):
                    deliveries.append(await producer.send_batch(batch, topic, partition=partition))
                    batches.append(batched)
        except PublishError:
            await _settle(deliveries)
            raise
        except _BROKER_ERRORS as exc:
            await _settle(deliveries)
            raise _not_acknowledged(len(records), exc) from exc
        outcomes = await asyncio.gather(*deliveries, return_exceptions=True)
        return _refused(outcomes, batches, len(records))


def topic_of_channel(config: KafkaConfig) -> dict[str, str]:
    """The topic each channel of `OutboundMessage` is written to."""
    return {
        ORDERS: config.topic_orders,
        DEAD_LETTERS: config.topic_dlq,
        COMMAND_RESULTS: config.topic_command_results,
        OFFERS: config.topic_offers,
    }


def _refused(
    outcomes: list[Any], batches: list[list[OutboundMessage]], count: int
) -> list[tuple[OutboundMessage, KafkaError]]:
    """The records refused as too large, from the settled deliveries of their batches.

    A record over aiokafka's batch size (16 KB) travels alone in its batch, so a refusal
    names it; a batch of several records is at most that size, and a broker refusing it
    refuses ordinary orders too: an outage, not a bad record."""
    refused: list[tuple[OutboundMessage, KafkaError]] = []
    for outcome, batched in zip(outcomes, batches, strict=True):
        if isinstance(outcome, _TOO_LARGE) and len(batched) == 1:
            refused.append((batched[0], outcome))
        elif isinstance(outcome, _BROKER_ERRORS):
            raise _not_acknowledged(count, outcome) from outcome
        elif isinstance(outcome, BaseException):
            raise outcome
    return refused


def _not_acknowledged(count: int, error: BaseException) -> PublishError:
    return PublishError(f"Kafka did not acknowledge {count} record(s): {error!r}")


def _batches(
    producer: AIOKafkaProducer, records: list[OutboundMessage]
) -> Iterator[tuple[BatchBuilder, list[OutboundMessage]]]:
    """The records, in order, in as few aiokafka batches as their size allows, each with the
    records it holds."""
    batch = producer.create_batch()
    batched: list[OutboundMessage] = []
    for record in records:
        while not _append(batch, record):  # full: hand it over, start the next one
            if batch.record_count() == 0:  # aiokafka lets one record overfill a batch
                raise PublishError(f"a record of {len(record.value)} bytes fits no Kafka batch")
            yield batch, batched
            batch, batched = producer.create_batch(), []
        batched.append(record)
    yield batch, batched


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
