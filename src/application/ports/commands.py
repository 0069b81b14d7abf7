"""Where OpenOMS's commands come from (a Kafka consumer group in production) and how their
results and rejects leave."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from application.ports.publisher import DeadLetter, OutboundMessage
from domain.commands import Command, CommandResult

C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Position:
    """A record's place in the command topic: what the consumer commits past."""

    partition: int
    offset: int


@dataclass(frozen=True)  # no slots: a generic slotted dataclass breaks `Received[X](...)`
class Received(Generic[C]):
    """One record of a command topic (orders' or offers'), read as far as it could be.

    Exactly one of: `command` (valid, for this account); `refused` (a command whose fields
    break its schema or its own rules: it is answered `invalid`); `unreadable` (not a command
    at all: no JSON object, no command id; it goes to the dead-letter topic as it came);
    `foreign` (a valid command for another account: not ours, skipped)."""

    position: Position
    at: datetime  # the command's own time (`ce_time`, else the record's): its result's time
    raw: str  # the value as text (undecodable bytes replaced), for the dead-letter topic
    command: C | None = None
    refused: CommandResult | None = None
    unreadable: str | None = None
    foreign: bool = False


ReceivedCommand = Received[Command]


class RecordSource(Protocol[C]):
    """A command topic read by a consumer group: what arrived, committed by hand."""

    async def receive(self, wait_seconds: float) -> Sequence[Received[C]]:
        """What arrived within `wait_seconds` (maybe nothing), in partition order."""
        ...

    async def commit(self, position: Position) -> None:
        """Done with everything of the partition up to and including `position`."""
        ...

    def rewind(self, position: Position) -> None:
        """Deliver this record again, and what follows it in its partition (an outage held
        it: nothing is skipped)."""
        ...

    def lag(self) -> int | None:
        """Records of the partitions held that were not delivered yet, as of the last
        `receive` (None: not known)."""
        ...


CommandSource = RecordSource[Command]


class ResultEncoder(Protocol):
    """Pure: a result, or a reject, to the record that is sent (deterministic bytes)."""

    def encode_result(self, result: CommandResult) -> OutboundMessage: ...

    def encode_reject(self, letter: DeadLetter) -> OutboundMessage: ...
