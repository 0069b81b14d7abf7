"""Allegro's batch commands sent and followed until every task is final (docs/offers.md).

A batch command is `PUT` under its own id, so sending it again after an outage or a crash is
safe: Allegro answers `409` (already used) and the command counts as sent. Its report is read
until Allegro says every task is final (the first report is usually all zeros), then its tasks
when some failed. A whole command Allegro refuses (4xx) fails every offer of it, as a result,
not a retry; a command not final within `ReportPolicy.max_wait` is an outage (the caller holds
its round) until `ReportPolicy.timeouts` waits ended so, then its offers fail as
`BATCH_NOT_FINAL`, so that one stuck command does not hold every later change.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from application.ports.clock import Clock
from application.ports.errors import AllegroRejected, AllegroUnavailable
from application.ports.offers import CommandIdUsed, Failure, OfferWriter
from domain.offers import BatchCommand

log = logging.getLogger(__name__)

BATCH_NOT_FINAL = "BATCH_NOT_FINAL"
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    first_delay: float = 0.2  # between two reads of a batch command's report...
    max_delay: float = 5.0  # ...doubling up to this
    max_wait: float = 120.0  # not final after this long: an outage...
    timeouts: int = 3  # ...until this many waits ended so (per command, in this process)


class BatchReportTimeout(AllegroUnavailable):
    """Allegro did not finish a batch command within the wait allowed: held like an outage
    (until `ReportPolicy.timeouts` waits ended so)."""


class BatchRunner:
    """Sends batch commands and follows them until Allegro reports every task final."""

    def __init__(
        self,
        writer: OfferWriter,
        clock: Clock,
        sleep: Sleep,
        policy: ReportPolicy,
        on_accepted: Callable[[BatchCommand], None] = lambda command: None,
    ) -> None:
        """`on_accepted`: told of each command Allegro accepted now (a 409 is not one)."""
        self._writer = writer
        self._clock = clock
        self._sleep = sleep
        self._policy = policy
        self._on_accepted = on_accepted
        self._timeouts: Counter[uuid.UUID] = Counter()  # waits that ended not final, per id

    async def run(self, commands: Sequence[BatchCommand]) -> dict[uuid.UUID, dict[str, Failure]]:
        """Each command's failed offers (an empty mapping: every offer succeeded). All are
        sent before any is followed: Allegro works on them meanwhile."""
        failures: dict[uuid.UUID, dict[str, Failure]] = {}
        for command in commands:
            refused = await self._send(command)
            if refused is not None:
                failures[command.command_id] = refused
        for command in commands:
            if command.command_id not in failures:
                failures[command.command_id] = await self._outcome(command)
        return failures

    async def _send(self, command: BatchCommand) -> dict[str, Failure] | None:
        """None when sent (now or before a crash); else the refusal, for every offer."""
        try:
            accepted = await self._writer.send(command)
        except CommandIdUsed:
            accepted = False
        except AllegroRejected as exc:  # the whole command refused: a result, not a retry
            log.warning(
                "batch command refused",
                extra={"command_id": str(command.command_id), "code": exc.code},
            )
            return _all_failed(command, exc)
        if accepted:
            self._on_accepted(command)
        else:
            log.info("batch command sent before", extra={"command_id": str(command.command_id)})
        return None

    async def _outcome(self, command: BatchCommand) -> dict[str, Failure]:
        policy = self._policy
        started = self._clock.now()
        delay = policy.first_delay
        try:
            while not (report := await self._writer.report(command)).final:
                waited = (self._clock.now() - started).total_seconds()
                if waited >= policy.max_wait:
                    return self._timed_out(command, waited)
                await self._sleep(min(delay, policy.max_wait - waited))
                delay = min(delay * 2, policy.max_delay)
            self._timeouts.pop(command.command_id, None)
            if report.failed <= 0:
                return {}
            tasks = await self._writer.tasks(command)
        except AllegroRejected as exc:  # Allegro refuses to report it: a result, not a loop
            self._timeouts.pop(command.command_id, None)
            return _all_failed(command, exc)
        offers = set(command.offer_ids)
        return {
            task.offer_id: Failure.bounded(task.message, task.code)
            for task in tasks
            if task.status == "FAIL" and task.offer_id in offers
        }

    def _timed_out(self, command: BatchCommand, waited: float) -> dict[str, Failure]:
        """Raises BatchReportTimeout (the round is held and tried again) until the command
        has timed out `policy.timeouts` times; then every offer of it fails."""
        command_id = command.command_id
        self._timeouts[command_id] += 1
        waits = self._timeouts[command_id]
        if waits < self._policy.timeouts:
            raise BatchReportTimeout(f"batch command {command_id} not final after {waited:.0f} s")
        del self._timeouts[command_id]
        log.warning(
            "batch command never final, its offers answered as failed",
            extra={"command_id": str(command_id), "waits": waits},
        )
        message = (
            f"Allegro did not report batch command {command_id} final after {waits} waits of "
            f"{self._policy.max_wait:.0f} s: whether it was applied is unknown"
        )
        return dict.fromkeys(command.offer_ids, Failure.bounded(message, BATCH_NOT_FINAL))


def _all_failed(command: BatchCommand, exc: AllegroRejected) -> dict[str, Failure]:
    failure = Failure.bounded(str(exc), exc.code)
    return dict.fromkeys(command.offer_ids, failure)
