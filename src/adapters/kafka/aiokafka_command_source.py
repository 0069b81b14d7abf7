"""A command topic through an aiokafka consumer group (`RecordSource`): the order commands
(`AiokafkaCommandSource`) and the offer commands (`aiokafka_offer_command_source`), each
read by its own decode function (adapters/kafka/commands.py, offers.py).

Offsets are committed by hand, only once a record is answered: an order command once its
result is acknowledged (`application.command_loop`), offer commands once the round that
answers them is done. Auto-commit is off, so a crash re-delivers everything not committed.
A new group starts from the earliest record: a command sent before the service first ran is
still applied. Commands for other accounts share the topic and are skipped by the loops
(their offsets are committed like any other).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Generic, Self, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from adapters.kafka.commands import MAX_COMMAND_BYTES, decode_command, raw_text, time_of
from adapters.kafka.config import KafkaConfig, connection_options
from adapters.kafka.offers import decode_offer_command
from application.ports.commands import Position, Received, RecordSource
from application.ports.errors import ConsumeError
from domain.commands import Command
from domain.offers import OfferCommand

logger = logging.getLogger(__name__)

MAX_RECORDS = 100  # per `receive`: a round stays short, so a stop is answered quickly
# Offer commands are coalesced into Allegro's batch commands of up to 1 000 offers: a receive
# of that many lets one round fill a batch (docs/offers.md).
OFFER_MAX_RECORDS = 1_000
# A member that died (a crash, a SIGKILL) holds its partitions until its session times out:
# the commands wait that long after every crash. Kafka's lowest allowed session by default
# (`group.min.session.timeout.ms`), with heartbeats at a third of it as Kafka advises.
SESSION_TIMEOUT_MS = 6_000
HEARTBEAT_INTERVAL_MS = 2_000
LAG_SECONDS = 0.5  # longer than this, the lag stays unknown for the round
STOP_SECONDS = 0.5  # waited for a consumer cancelled while joining to leave (then abandoned)
_STOPPING: set[asyncio.Future[None]] = set()  # kept referenced until they end


C = TypeVar("C")
# A record's value, headers, timestamp (ms), position and the service's account -> what it is
Decode = Callable[
    [bytes | None, Sequence[tuple[str, bytes]], int | None, Position, str], Received[C]
]


class AiokafkaRecordSource(RecordSource[C], Generic[C]):
    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        group_id: str,
        account: str,
        decode: Decode[C],
        max_records: int = MAX_RECORDS,
    ) -> None:
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self._config = config
        self._topic = topic
        self._group_id = group_id
        self._account = account
        self._decode = decode
        self._max_records = max_records
        self._consumer: AIOKafkaConsumer | None = None
        self._lag: int | None = None

    async def start(self) -> None:
        """Joins the group now; else the first `receive` does (joining takes seconds, and a
        `receive` is what a stop interrupts)."""
        await self._join()

    async def _join(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            self._topic,
            **connection_options(self._config),
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            # A record over this is answered as unreadable without holding the partition.
            max_partition_fetch_bytes=max(4 * MAX_COMMAND_BYTES, 1_048_576),
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise ConsumeError(f"cannot join consumer group {self._group_id}: {exc}") from exc
        except BaseException:  # cancelled while joining (a stop)
            # Leaving a group mid-join waits for the join (seconds): a stop must not. The
            # consumer is stopped in the background, at most STOP_SECONDS waited for here.
            stopping = asyncio.ensure_future(consumer.stop())
            _STOPPING.add(stopping)
            stopping.add_done_callback(_STOPPING.discard)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(stopping), STOP_SECONDS)
            raise
        self._consumer = consumer
        return consumer

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def receive(self, wait_seconds: float) -> Sequence[Received[C]]:
        consumer = self._consumer or await self._join()
        try:
            batches = await consumer.getmany(
                timeout_ms=int(wait_seconds * 1000), max_records=self._max_records
            )
        except KafkaError as exc:
            raise ConsumeError(f"reading {self._topic}: {exc}") from exc
        received: list[Received[C]] = []
        for partition, records in sorted(batches.items(), key=lambda item: item[0].partition):
            for record in records:
                position = Position(partition.partition, record.offset)
                received.append(
                    self._read(record.value, record.headers, record.timestamp, position)
                )
        self._lag = await self._measure_lag(consumer)
        return received

    def _read(
        self,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] | None,
        timestamp: int | None,
        position: Position,
    ) -> Received[C]:
        """The record decoded; a decoder that fails on it (a case nobody foresaw) makes it
        unreadable, never an error: raised here, it would be read again after every restart
        and stop its partition for good."""
        try:
            return self._decode(value, list(headers or ()), timestamp, position, self._account)
        except Exception as exc:
            logger.exception("a command record could not be decoded")
            at = time_of(list(headers or ()), timestamp)  # as a decoder gives it: replay-equal
            reason = f"undecodable ({type(exc).__name__})"
            return Received(position, at, raw_text(value), unreadable=reason)

    def lag(self) -> int | None:
        return self._lag

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> int | None:
        """High watermark minus the next position, over the partitions held. Both are known
        once a partition was fetched; a partition not fetched yet makes it unknown (a metric
        that guesses is worse than none)."""
        total = 0
        try:
            # One bound for the whole measure: a round never waits more than this for it.
            async with asyncio.timeout(LAG_SECONDS):
                for partition in consumer.assignment():
                    high = consumer.highwater(partition)
                    if high is None:
                        return None
                    total += max(0, high - await consumer.position(partition))
        except (KafkaError, TimeoutError, AssertionError):
            return None
        return total

    async def commit(self, position: Position) -> None:
        partition = TopicPartition(self._topic, position.partition)
        try:
            await self._started().commit({partition: OffsetAndMetadata(position.offset + 1, "")})
        except KafkaError as exc:
            raise ConsumeError(f"committing {self._topic}: {exc}") from exc

    def rewind(self, position: Position) -> None:
        partition = TopicPartition(self._topic, position.partition)
        try:
            self._started().seek(partition, position.offset)
        except (KafkaError, AssertionError, ValueError) as exc:
            # The partition was taken away by a rebalance: its new owner reads it from the
            # last committed offset, which is at or before this record.
            logger.info(
                "rewind skipped", extra={"partition": position.partition, "error": str(exc)}
            )

    def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise ConsumeError(f"the consumer of {self._topic} is not started")
        return self._consumer


class AiokafkaCommandSource(AiokafkaRecordSource[Command]):
    """The order commands (`CommandSource`)."""

    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        group_id: str,
        account: str,
        max_records: int = MAX_RECORDS,
    ) -> None:
        super().__init__(config, topic, group_id, account, decode_command, max_records)


def aiokafka_offer_command_source(
    config: KafkaConfig, group_id: str, account: str, max_records: int = OFFER_MAX_RECORDS
) -> AiokafkaRecordSource[OfferCommand]:
    """The offer commands (`RecordSource[OfferCommand]`) of `config.topic_offer_commands`."""
    return AiokafkaRecordSource(
        config, config.topic_offer_commands, group_id, account, decode_offer_command, max_records
    )
