"""The fake of the `RecordSource` port (orders' and offers' command topics): partitions of
received records, committed offsets, rewinds, and an outage switch, as a consumer group's
member sees them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Generic, TypeVar

from adapters.inmemory import InMemoryEventPublisher
from application.ports.commands import Position, Received, RecordSource
from application.ports.publisher import OutboundMessage
from domain.commands import Command

C = TypeVar("C")


class FakeRecordSource(RecordSource[C], Generic[C]):
    def __init__(self, max_records: int | None = None) -> None:
        self.max_records = max_records  # per `receive`, as a consumer's fetch is bounded
        self.partitions: dict[int, list[Received[C]]] = {}
        self.next: dict[int, int] = {}  # index of the next record to deliver, per partition
        self.committed: dict[int, int] = {}  # next offset to read after a restart
        self.rewinds: list[Position] = []
        self.fail_with: Exception | None = None  # the broker is down
        self.deliveries = 0

    def add(self, partition: int, received: Received[C]) -> Received[C]:
        """Append `received` to `partition` at its next offset."""
        records = self.partitions.setdefault(partition, [])
        placed = dataclasses.replace(received, position=Position(partition, len(records)))
        records.append(placed)
        self.next.setdefault(partition, 0)
        return placed

    def restart(self) -> None:
        """A new process: delivery resumes at the committed offsets."""
        self.next = {p: self.committed.get(p, 0) for p in self.partitions}

    async def receive(self, wait_seconds: float) -> Sequence[Received[C]]:
        if self.fail_with is not None:
            raise self.fail_with
        out: list[Received[C]] = []
        for partition in sorted(self.partitions):
            records = self.partitions[partition]
            room = None if self.max_records is None else self.max_records - len(out)
            taken = records[self.next[partition] :][:room]
            out += taken
            self.next[partition] += len(taken)
        self.deliveries += len(out)
        return out

    async def commit(self, position: Position) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.committed[position.partition] = position.offset + 1

    def lag(self) -> int | None:
        return sum(len(records) - self.next[p] for p, records in self.partitions.items())

    def rewind(self, position: Position) -> None:
        self.rewinds.append(position)
        self.next[position.partition] = position.offset


class FakeCommandSource(FakeRecordSource[Command]):
    """The order commands' topic."""


class HeldSender(InMemoryEventPublisher):
    """The broker takes its time to acknowledge: `send` waits for `release`."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        self.entered.set()
        await self.release.wait()
        await super().send(messages)
