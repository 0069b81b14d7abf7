"""Reads a whole topic from the beginning, without a consumer group, as a test would check it."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

POLL_MS = 50


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str:
        """The UTF-8 value of a header; KeyError when absent."""
        return self.headers_dict[name]

    @property
    def headers_dict(self) -> dict[str, str]:
        return {name: value.decode("utf-8") for name, value in self.headers}

    def json(self) -> Any:
        assert self.value is not None, f"record {self.partition}/{self.offset} has no value"
        return json.loads(self.value)


async def read_topic(
    bootstrap_servers: str, topic: str, *, min_records: int = 0, within: float = 10.0
) -> list[ConsumedRecord]:
    """Every record of `topic` up to its end, ordered by (partition, offset).

    Polls until each partition is read up to the high watermark the broker reports and at
    least `min_records` were read; raises TimeoutError after `within` seconds.
    """
    deadline = time.monotonic() + within
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=POLL_MS,
        client_id="openoms-test-reader",
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic, deadline)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumedRecord] = []
        while True:
            batches = await consumer.getmany(*partitions, timeout_ms=POLL_MS)
            for batch in batches.values():
                records.extend(_record(message) for message in batch)
            if len(records) >= min_records and await _at_end(consumer, partitions):
                return sorted(records, key=lambda r: (r.partition, r.offset))
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"read {len(records)} record(s) of {topic} (wanted at least "
                    f"{min_records}, up to the end) within {within}s"
                )
    finally:
        await consumer.stop()


async def _partitions(
    consumer: AIOKafkaConsumer, topic: str, deadline: float
) -> list[TopicPartition]:
    while True:
        await consumer.topics()  # refreshes the cluster metadata
        ids = consumer.partitions_for_topic(topic)
        if ids:
            return [TopicPartition(topic, partition) for partition in sorted(ids)]
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} does not exist")
        await asyncio.sleep(POLL_MS / 1000)


async def _at_end(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> bool:
    for partition in partitions:
        highwater = consumer.highwater(partition)
        if highwater is None or await consumer.position(partition) < highwater:
            return False
    return True


def _record(message: Any) -> ConsumedRecord:
    return ConsumedRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=tuple(message.headers),
    )
