"""Inventory in: OpenOMS's `SetStock`/`SetPrice` commands, applied to Allegro in rounds.

A round is what arrived together (up to `OfferSyncLimits.max_records` records): its records
that are not commands go to the dead-letter topic and its invalid commands are answered
first; its valid commands are resolved to offers (`SkuIndex`), planned (`offer_plan`) and the
plan is staged (`OfferStore.stage_round`) before any batch command is sent. Then the batch
commands are sent and followed until Allegro reports every task final, the re-activations are
sent the same way, and one result per command is sent; then the round is marked done and the
offsets are committed, all uninterrupted by a stop.

Exactly once in effect: a round staged and not done (a crash, a stop, an outage) is finished
before anything else, exactly as planned: the same batch command ids (Allegro answers `409`,
already used: treated as sent). Once every batch command is final, what Allegro answered (the
round's outcome) is stored with the round before any result is sent: a round finished again
after that sends the same results to the byte without asking Allegro again. Records answered
by a done round are committed and never applied again: the service keeps, per partition, the
last offset answered (a map that only grows, stored with every round), and skips any record at
or before it, however it comes back (an offset commit lost in a crash, a rebalance). An outage
(Allegro, the broker, the store) holds the round and backs off; a SKU without offers, a task
Allegro failed and a batch command Allegro never finalises (after `ReportPolicy.timeouts` waits)
are results (`CommandFailed`, `rejected`), never a retry loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from application.batch_commands import BatchRunner, ReportPolicy, Sleep
from application.command_loop import ResultCounts
from application.offer_plan import (
    activations,
    finished_offers,
    on_base_marketplace,
    plan_round,
    restocked_offers,
    round_results,
    round_span,
)
from application.outbox import uninterrupted
from application.poll_loop import Backoff
from application.ports.clock import Clock
from application.ports.commands import Position, Received, RecordSource, ResultEncoder
from application.ports.errors import PortError
from application.ports.offers import (
    OfferRound,
    OfferStore,
    OfferWriter,
    RoundOutcome,
)
from application.ports.publisher import DeadLetter, MessageSender, OutboundMessage
from application.sku_index import SkuIndex
from application.stopping import unless_stopped
from domain.commands import CommandResult
from domain.offers import REACTIVATED_ENDINGS, BatchCommand, OfferCommand, OfferRequest

log = logging.getLogger(__name__)

OfferRecordSource = RecordSource[OfferCommand]
ReceivedOffer = Received[OfferCommand]


@dataclass(frozen=True, slots=True)
class OfferSyncLimits:
    receive_seconds: float = 1.0  # the first receive of a round waits this long
    gather_seconds: float = 1.0  # then more is received while it keeps coming, this long
    gather_wait_seconds: float = 0.05  # each further receive waits this long
    # A round holds this many records, or up to one receive more (a receive is not split).
    max_records: int = 5000
    # How a batch command's report is read, and how long a round waits for it to be final
    # before it is held, then answered as failed (`BATCH_NOT_FINAL`).
    report: ReportPolicy = field(default_factory=ReportPolicy)


@dataclass(slots=True)
class OfferSyncStatus(ResultCounts):
    """What operators see of the inventory path (metrics, `status`)."""

    rounds: int = 0  # rounds done
    offers_written: int = 0  # offers in the batch commands Allegro accepted
    batch_commands_sent: int = 0  # batch commands Allegro accepted (a 409 is not counted)
    pending_offers: int = 0  # offers of the staged round not done yet


class OfferSync:
    def __init__(
        self,
        source: OfferRecordSource,
        index: SkuIndex,
        writer: OfferWriter,
        store: OfferStore,
        encoder: ResultEncoder,
        sender: MessageSender,
        account: str,
        clock: Clock,
        backoff: Backoff | None = None,
        limits: OfferSyncLimits | None = None,
        sleep: Sleep = asyncio.sleep,
        status: OfferSyncStatus | None = None,
    ) -> None:
        """`clock` and `sleep` time the report polling and the gathering of a round (tests
        pass a fake clock and a sleep that advances it)."""
        self._source = source
        self._index = index
        self._store = store
        self._encoder = encoder
        self._sender = sender
        self._account = account
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._limits = limits or OfferSyncLimits()
        self.status = status or OfferSyncStatus()
        self._batches = BatchRunner(writer, clock, sleep, self._limits.report, self._accepted)
        self._loaded = False  # the store's round was read (once per process)
        self._pending: OfferRound | None = None  # staged, not done
        self._outcome_unstored = False  # the pending round's outcome is not stored yet
        self._uncommitted: list[Position] = []  # covered by the done round, commit failed
        # partition -> last offset answered, by every done round and answered-only commit
        # this process knows of (only grows; each staged round stores it: see OfferRound)
        self._answered: dict[int, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop`. A stop abandons the round in flight at once (a staged round is
        finished at the next start) except a send of results + commit under way."""
        while not stop.is_set():
            delay = await unless_stopped(
                self.step(),
                stop,
                log=log,
                abandoning="stopping: the offer round in flight is held (finished at the next "
                "start), a commit under way completes",
            )
            if delay is None:
                return
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)

    async def step(self) -> float:
        """The staged round if one is not done, then one round of what arrives; returns how
        long to wait before the next step."""
        try:
            await self.finish_staged()
            received = await self._gather()
            self.status.lag = self._source.lag()
            if received:
                await self._round(received)
        except PortError as exc:
            return self._failed(exc)
        self.status.consecutive_failures = 0
        return 0.0

    async def finish_staged(self) -> bool:
        """Finishes the round staged before a crash, a stop or an outage, exactly as planned.
        True if there was one."""
        if not self._loaded:
            loaded = await self._store.load_round(self._account)
            if loaded is not None:
                offer_round, done = loaded
                self._answered = _merged(self._answered, offer_round.answered)
                if done:
                    self._answered = _merged(self._answered, offer_round.covers)
                else:
                    self._pending = offer_round
            self._loaded = True
        if self._pending is None:
            return False
        log.info("finishing a staged offer round", extra={"round": self._pending.round_key})
        await self._finish(self._pending)
        return True

    async def _gather(self) -> list[ReceivedOffer]:
        """What arrives: one receive, then more while records keep coming quickly."""
        limits = self._limits
        received = list(await self._source.receive(limits.receive_seconds))
        if not received:
            return received
        started = self._clock.now()
        try:
            while len(received) < limits.max_records:
                if (self._clock.now() - started).total_seconds() >= limits.gather_seconds:
                    break
                more = await self._source.receive(limits.gather_wait_seconds)
                if not more:
                    break
                received += more
        except BaseException:
            self._rewind(received)  # not answered: delivered again
            raise
        return received

    async def _round(self, received: list[ReceivedOffer]) -> None:
        try:
            fresh = await self._skip_answered(received)
            offer_round = await self._plan(fresh)
            await self._commit_done()  # the last round's commit, before it is replaced
            if offer_round is None:  # nothing to write: only rejects and refusals, answered
                self._answered = _merged(self._answered, _covers(fresh))
                await uninterrupted(self._commit(_covers(fresh)))
                return
            offer_round = replace(offer_round, answered=_positions(self._answered))
            await self._store.stage_round(self._account, offer_round)
        except BaseException:
            self._rewind(received)  # nothing is staged: every record is delivered again
            raise
        self._pending = offer_round
        self._outcome_unstored = False
        await self._finish(offer_round)

    async def _skip_answered(self, received: list[ReceivedOffer]) -> list[ReceivedOffer]:
        """Records already answered are committed and skipped (delivered again when the
        offset commit was lost after their round was done, or after a rebalance)."""
        answered = [r for r in received if _is_answered(r.position, self._answered)]
        if answered:
            log.info("skipping offer commands already answered", extra={"records": len(answered)})
            await self._commit(_covers(answered))
        return [r for r in received if not _is_answered(r.position, self._answered)]

    async def _plan(self, records: list[ReceivedOffer]) -> OfferRound | None:
        """Answers what is not a valid command (before the round is staged: re-sent as the
        same bytes if the round is delivered again) and plans the rest; None: no command."""
        await self._answer_invalid(records)
        requests = [
            OfferRequest(r.command, r.at)
            for r in records
            if r.command is not None and not r.foreign
        ]
        if not requests:
            return None
        offers = await self._index.offers({r.command.sku for r in requests})
        requests = on_base_marketplace(requests, self._index.base_marketplace)
        restocked = restocked_offers(requests, offers)
        reactivatable = await self._reactivatable(restocked) if restocked else set()
        positions = [r.position for r in records]
        return plan_round(self._account, positions, requests, offers, reactivatable)

    async def _answer_invalid(self, records: list[ReceivedOffer]) -> None:
        messages: list[OutboundMessage] = []
        refused: list[CommandResult] = []
        rejects = 0
        for record in records:
            if record.foreign:
                continue
            if record.unreadable is not None:
                log.warning(
                    "offer command record is not a command, dead-lettered",
                    extra={
                        "partition": record.position.partition,
                        "offset": record.position.offset,
                        "error": record.unreadable,
                    },
                )
                messages.append(self._encoder.encode_reject(self._dead_letter(record)))
                rejects += 1
            elif record.refused is not None:
                messages.append(self._encoder.encode_result(record.refused))
                refused.append(record.refused)
        if messages:
            await uninterrupted(self._sender.send(messages))
        self.status.rejected_records += rejects
        self._count(refused)

    async def _reactivatable(self, offer_ids: set[str]) -> set[str]:
        """Offers the service ended, or Allegro ended for empty stock (as last published)."""
        ended = await self._store.ended_by_service(self._account, offer_ids)
        records = await self._store.load_offer_records(self._account, offer_ids)
        return ended | {
            offer_id
            for offer_id, record in records.items()
            if record.publication_status == "ENDED" and record.ended_by in REACTIVATED_ENDINGS
        }

    async def _finish(self, offer_round: OfferRound) -> None:
        self.status.pending_offers = offer_round.offer_count()
        outcome = await self._stored_outcome(offer_round)
        failures = outcome.failures()
        commands = [*offer_round.commands, *outcome.activations]
        results = round_results(self._account, offer_round, commands, failures)
        messages = [self._encoder.encode_result(result) for result in results]
        ended, reactivated = finished_offers(commands, failures)
        await uninterrupted(self._close(offer_round, messages, ended, reactivated))
        self._count(results)
        self.status.rounds += 1
        log.info(
            "offer round done",
            extra={
                "round": offer_round.round_key,
                "commands": len(results),
                "batch_commands": len(commands),
                "ended": len(ended),
                "reactivated": len(reactivated),
            },
        )

    async def _stored_outcome(self, offer_round: OfferRound) -> RoundOutcome:
        """The round's outcome, stored: read from Allegro (every batch command, then the
        re-activations, until final) unless the round holds it; then the round is staged
        again with it, before any result is sent. Kept in memory until it is stored (a
        store outage), so Allegro is not asked again."""
        outcome = offer_round.outcome
        if outcome is None:
            failures = await self._batches.run(offer_round.commands)
            reactivating = activations(self._account, offer_round, failures)
            failures = {**failures, **await self._batches.run(reactivating)}
            outcome = RoundOutcome.of(reactivating, failures)
            offer_round = self._pending = replace(offer_round, outcome=outcome)
            self._outcome_unstored = True
        if self._outcome_unstored:
            await self._store.stage_round(self._account, offer_round)
            self._outcome_unstored = False
        return outcome

    async def _close(
        self,
        offer_round: OfferRound,
        messages: list[OutboundMessage],
        ended: set[str],
        reactivated: set[str],
    ) -> None:
        """Results sent (acknowledged), then the round done, then the offsets committed.

        Done before committed: the answered map (the round's `answered` merged with its
        `covers`, rebuilt from the stored round at a start) makes its records skipped if
        they are delivered again, so a commit may fail without harm, and it does fail when
        the round is finished at a start, before the consumer holds its partitions. A commit
        that failed in this process is tried again before another round is staged; a later
        round replaces the stored done round whether or not its offsets were committed (after
        a restart they are not tried again), and carries the answered map, so its records
        are still skipped."""
        if messages:
            await self._sender.send(messages)
        await self._store.finish_round(self._account, ended, reactivated)
        self._pending = None
        self._answered = _merged(self._answered, offer_round.covers)
        self.status.pending_offers = 0
        self._uncommitted = list(offer_round.covers)
        try:
            await self._commit_done()
        except PortError as exc:
            log.info(
                "offsets of a done offer round not committed yet, will retry",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )

    async def _commit_done(self) -> None:
        """Commits what the last done round covers, if that is still to do."""
        if self._uncommitted:
            await self._commit(self._uncommitted)
            self._uncommitted = []

    async def _commit(self, covers: Iterable[Position]) -> None:
        for position in covers:
            await self._source.commit(position)

    def _rewind(self, received: Sequence[ReceivedOffer]) -> None:
        firsts: dict[int, Position] = {}
        for record in received:
            firsts.setdefault(record.position.partition, record.position)
        for position in firsts.values():
            self._source.rewind(position)

    def _dead_letter(self, record: ReceivedOffer) -> DeadLetter:
        position = record.position
        return DeadLetter(
            account=self._account,
            checkout_form_id=f"offer-command-{position.partition}-{position.offset}",
            allegro_event_id=None,
            raw_payload=record.raw,
            error=f"not a command: {record.unreadable}",
            attempts=1,
            failed_at=record.at,
        )

    def _count(self, results: Iterable[CommandResult]) -> None:
        for result in results:
            self.status.count(result)

    def _accepted(self, command: BatchCommand) -> None:
        self.status.batch_commands_sent += 1
        self.status.offers_written += len(command.offer_ids)

    def _failed(self, exc: PortError) -> float:
        return self.status.held(exc, self._backoff, "offer round held, will retry")


def _covers(records: Iterable[ReceivedOffer]) -> list[Position]:
    return list(round_span(r.position for r in records)[1])


def _merged(last: Mapping[int, int], positions: Iterable[Position]) -> dict[int, int]:
    """`last` (partition -> offset) with `positions`: the larger offset per partition."""
    merged = dict(last)
    for position in positions:
        merged[position.partition] = max(position.offset, merged.get(position.partition, -1))
    return merged


def _positions(last: Mapping[int, int]) -> tuple[Position, ...]:
    return tuple(Position(p, o) for p, o in sorted(last.items()))


def _is_answered(position: Position, answered: Mapping[int, int]) -> bool:
    return position.offset <= answered.get(position.partition, -1)
