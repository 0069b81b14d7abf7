"""The one fake of `OfferWriter`: Allegro's batch commands as the port sees them.

Offers' stock, prices and publication status are kept in memory (tests read them). Every PUT
is recorded in `sent` as (command id, content), the reused ones too: Allegro refuses a reused
id (`send` returns False, nothing is applied again), and `reused_with_other_content` lists any
id sent again with another content, which must never happen. A command's report is all zeros
for its first `final_after - 1` reads (one by default, as Allegro's first report often is),
then final. `failing` makes an offer's tasks fail with
Allegro's message and code. `fail_with` is an outage of every call (or of the calls named in
`fail_calls`), until set back to None.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Sequence

from application.ports.errors import AllegroRejected
from application.ports.offers import CommandReport, OfferWriter, TaskReport
from domain.money import Money
from domain.offers import BatchCommand, BatchKind, PublicationAction


class FakeOfferWriter(OfferWriter):
    def __init__(self, final_after: int = 2) -> None:
        self.stock: dict[str, int] = {}
        self.prices: dict[tuple[str, str | None], Money] = {}  # (offer, marketplace) -> price
        self.status: dict[str, str] = {}  # offer -> ACTIVE / ENDED
        self.sent: list[tuple[uuid.UUID, str]] = []
        self.accepted: dict[uuid.UUID, BatchCommand] = {}
        self.reused_with_other_content: list[uuid.UUID] = []
        self.tasks_of: dict[uuid.UUID, list[TaskReport]] = {}
        self.failing: dict[str, tuple[str, str | None]] = {}  # offer -> (message, code)
        self.final_after = final_after
        self.report_calls: Counter[uuid.UUID] = Counter()
        self.task_reads: list[uuid.UUID] = []
        self.fail_with: Exception | None = None
        self.fail_calls: Collection[str] | None = None  # None: all of send, report, tasks
        self.reject_with: AllegroRejected | None = None  # a 4xx refusing a PUT outright

    def offers(self, *offer_ids: str, stock: int = 10, status: str = "ACTIVE") -> None:
        for offer_id in offer_ids:
            self.stock[offer_id] = stock
            self.status[offer_id] = status

    def commands(self, kind: BatchKind | None = None) -> list[BatchCommand]:
        """The commands accepted, in the order they were first sent."""
        return [c for c in self.accepted.values() if kind is None or c.kind is kind]

    async def send(self, command: BatchCommand) -> bool:
        self._outage("send")
        self.sent.append((command.command_id, command.content))
        if self.reject_with is not None:
            raise self.reject_with
        known = self.accepted.get(command.command_id)
        if known is not None:
            if known.content != command.content:
                self.reused_with_other_content.append(command.command_id)
            return False
        self.accepted[command.command_id] = command
        self.tasks_of[command.command_id] = [self._apply(command, o) for o in command.offer_ids]
        return True

    async def report(self, command: BatchCommand) -> CommandReport:
        self._outage("report")
        tasks = self._tasks(command)
        self.report_calls[command.command_id] += 1
        if self.report_calls[command.command_id] < self.final_after:
            return CommandReport(total=0, success=0, failed=0, completed=False)
        failed = sum(1 for task in tasks if task.status == "FAIL")
        return CommandReport(len(tasks), len(tasks) - failed, failed, completed=True)

    async def tasks(self, command: BatchCommand) -> Sequence[TaskReport]:
        self._outage("tasks")
        self.task_reads.append(command.command_id)
        return list(self._tasks(command))

    def _tasks(self, command: BatchCommand) -> list[TaskReport]:
        tasks = self.tasks_of.get(command.command_id)
        if tasks is None:
            raise AllegroRejected("command not found", status_code=404, code="NOT_FOUND")
        return tasks

    def _apply(self, command: BatchCommand, offer_id: str) -> TaskReport:
        failing = self.failing.get(offer_id)
        if failing is not None:
            return TaskReport(offer_id, "FAIL", failing[0], failing[1])
        if command.kind is BatchKind.QUANTITY:
            assert command.quantity is not None
            self.stock[offer_id] = command.quantity  # an ended offer stays ended
        elif command.kind is BatchKind.PRICE:
            assert command.price is not None
            self.prices[(offer_id, command.marketplace)] = command.price
        elif command.action is PublicationAction.END:
            self.status[offer_id] = "ENDED"
        elif self.stock.get(offer_id, 0) < 1:
            message = "The offer cannot be activated: its quantity is 0."
            return TaskReport(offer_id, "FAIL", message, "OFFER_STOCK_EMPTY")
        else:
            self.status[offer_id] = "ACTIVE"
        return TaskReport(offer_id, "SUCCESS")

    def _outage(self, call: str) -> None:
        if self.fail_with is not None and (self.fail_calls is None or call in self.fail_calls):
            raise self.fail_with
