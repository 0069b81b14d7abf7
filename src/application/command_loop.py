"""The command path's loop: receive → apply → send the result → commit the offset.

Exactly once in effect: the offset is committed only after the result is acknowledged by the
broker, and the effect before it; a crash anywhere re-delivers the command, which
`ApplyCommand` then finds applied (or applies), and its result is re-sent with the same id and
bytes. A command's result and the commit happen per record, in partition order, so the commands
of one order (one key, one partition) are applied in order.

A permanent failure (Allegro refused the command, its revision is outdated, it breaks its
schema) is a result like a success: the partition moves on. An outage (Allegro, the broker) is
not: the record is rewound, the loop backs off, and it is tried again, so nothing is skipped.
A record that is not a command at all goes to the dead-letter topic as it came.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from application.apply_command import ApplyCommand
from application.outbox import uninterrupted
from application.poll_loop import Backoff
from application.ports.commands import CommandSource, Position, ReceivedCommand, ResultEncoder
from application.ports.errors import PortError
from application.ports.publisher import DeadLetter, MessageSender, OutboundMessage
from application.stopping import unless_stopped
from domain.commands import CommandFailed, CommandResult

log = logging.getLogger(__name__)

RECEIVE_SECONDS = 1.0


@dataclass(slots=True)
class ResultCounts:
    """What operators see of a command topic's path (metrics, `/readyz`, `status`): the
    orders' commands here, the offers' in `offer_sync.OfferSyncStatus`."""

    succeeded: int = 0
    failed: int = 0
    # Failures by reason (`rejected`, `conflict`, `invalid`): what an operator acts on.
    failed_by_reason: Counter[str] = field(default_factory=Counter)
    rejected_records: int = 0  # not commands at all: on the dead-letter topic
    consecutive_failures: int = 0
    last_error: str | None = None
    lag: int | None = None  # records not yet delivered (the source's count; None: unknown)

    def count(self, result: CommandResult) -> None:
        if isinstance(result, CommandFailed):
            self.failed += 1
            self.failed_by_reason[result.reason.value] += 1
        else:
            self.succeeded += 1

    def held(self, exc: PortError, backoff: Backoff, what: str) -> float:
        """One more round failed by an outage: counted, logged as `what`; the wait before
        the next one."""
        self.consecutive_failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        delay = backoff.delay(self.consecutive_failures)
        log.warning(what, extra={"error": self.last_error, "retry_in_seconds": round(delay, 2)})
        return delay


@dataclass(slots=True)
class CommandStatus(ResultCounts):
    applied: int = 0


class CommandLoop:
    def __init__(
        self,
        source: CommandSource,
        apply: ApplyCommand,
        encoder: ResultEncoder,
        sender: MessageSender,
        account: str,
        backoff: Backoff | None = None,
        status: CommandStatus | None = None,
    ) -> None:
        self._source = source
        self._apply = apply
        self._encoder = encoder
        self._sender = sender
        self._account = account
        self._backoff = backoff or Backoff()
        self.status = status or CommandStatus()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            delay = await unless_stopped(self.step(), stop)
            if delay is None:
                return  # stopped mid-round: what was not committed is delivered again
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)

    async def step(self, receive_seconds: float = RECEIVE_SECONDS) -> float:
        """One round of what arrived; returns how long to wait before the next."""
        try:
            received = await self._source.receive(receive_seconds)
        except PortError as exc:
            return self._failed(exc)
        self.status.lag = self._source.lag()
        held: set[int] = set()  # partitions whose record is rewound: the rest of it waits
        partitions = _partitions(received)
        error: PortError | None = None
        for record in received:
            if record.position.partition in held:
                continue
            try:
                await self._handle(record)
            except PortError as exc:
                self._source.rewind(record.position)
                held.add(record.position.partition)
                error = error or exc
                if held == partitions:
                    break
        if error is None:  # a round without an outage (records or none): the path works
            self.status.consecutive_failures = 0
            return 0.0
        return self._failed(error)  # one failed round, however many partitions it held

    async def _handle(self, record: ReceivedCommand) -> None:
        if record.foreign:
            await self._source.commit(record.position)  # another account's: not ours
            return
        if record.unreadable is not None:
            log.warning(
                "command record is not a command, dead-lettered",
                extra={
                    "partition": record.position.partition,
                    "offset": record.position.offset,
                    "error": record.unreadable,
                },
            )
            reject = self._encoder.encode_reject(self._reject(record))
            await uninterrupted(self._answer(reject, record.position))
            self.status.rejected_records += 1
            return
        result: CommandResult
        if record.refused is not None:
            result = record.refused
        else:
            assert record.command is not None
            result = await self._apply(record.command, record.at)
        await uninterrupted(self._answer(self._encoder.encode_result(result), record.position))
        self.status.applied += 1
        self.status.count(result)
        log.info(
            "command done",
            extra={
                "command_id": str(result.command_id),
                "result": result.result_type,
                "checkout_form_id": result.checkout_form_id,
            },
        )

    async def _answer(self, message: OutboundMessage, position: Position) -> None:
        """The answer sent, then its record committed: finished even when a stop comes in
        between (`uninterrupted`), so that a stopped service never answers a record twice."""
        await self._sender.send([message])
        await self._source.commit(position)

    def _reject(self, record: ReceivedCommand) -> DeadLetter:
        position = record.position
        return DeadLetter(
            account=self._account,
            checkout_form_id=f"command-{position.partition}-{position.offset}",
            allegro_event_id=None,
            raw_payload=record.raw,
            error=f"not a command: {record.unreadable}",
            attempts=1,
            failed_at=record.at,
        )

    def _failed(self, exc: PortError) -> float:
        return self.status.held(exc, self._backoff, "command held, will retry")


def _partitions(records: Sequence[ReceivedCommand]) -> set[int]:
    return {record.position.partition for record in records}
