"""Offers, their event journal and the batch commands, moved along by the simulated clock.

Tasks of a command run when the clock reaches the command's due time; nothing ticks by
itself, so every operation first settles the commands that are due (in the order they
were registered, stamped with their due time, so events keep the order they would have
had). Not thread-safe on its own: `SimulatorState` holds the lock.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Sequence

from sandbox.allegro.clock import Clock
from sandbox.allegro.config import SimulatorConfig
from sandbox.allegro.errors import errors_holder
from sandbox.allegro.forms import Json
from sandbox.allegro.offer_commands import (
    KINDS,
    Change,
    ChangeBudget,
    Command,
    CommandPut,
    CommandRejected,
    apply,
    digest,
    failed,
    new_task,
    parse_body,
    parse_command,
)
from sandbox.allegro.offer_events import OfferJournal
from sandbox.allegro.offer_patch import OfferPatch, apply_patch, check, parse_patch
from sandbox.allegro.offers import (
    BASE_MARKETPLACE,
    ENDED_BY,
    MAX_STOCK,
    OfferBook,
    OfferQuery,
    OfferRejected,
    OfferSpec,
    full,
    listing,
    parse_amount,
)
from sandbox.allegro.timefmt import iso_millis, to_micros

# A task failure injected by the fault plan: the offer is busy, try again (an illustration
# of the failures Allegro reports per task).
_BUSY = ("OFFER_LOCKED", "The offer is being modified by another process. Try again later.")
_UNKNOWN = ("NOT_FOUND", "The offer does not exist.")
_REUSED = errors_holder("CONFLICT", "command id was already used")

FailurePolicy = Callable[[str, str], bool]  # (command id, offer id) -> fail this task?


class CommandNotFound(KeyError):
    pass


def failure_policy(seed: int, rate: float, offer_ids: Sequence[str]) -> FailurePolicy:
    """Fail the tasks of `offer_ids`, and a share `rate` of the others picked by a seeded
    hash of (command id, offer id): the same command fails the same tasks on every run."""
    always = frozenset(offer_ids)

    def fails(command_id: str, offer_id: str) -> bool:
        if offer_id in always:
            return True
        if rate <= 0:
            return False
        key = f"{seed}:{command_id}:{offer_id}".encode()
        draw = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
        return draw < rate

    return fails


class OfferDesk:
    def __init__(self, cfg: SimulatorConfig, clock: Clock) -> None:
        self._clock = clock
        self._delay_us = to_micros(cfg.offer_command_delay_seconds)
        self.journal = OfferJournal(to_micros(cfg.offer_event_retention_hours * 3600))
        self.book = OfferBook(cfg.seed, self.journal)
        self._commands: dict[tuple[str, str], Command] = {}
        self._pending: deque[Command] = deque()
        self._puts: list[CommandPut] = []
        self._budgets = {
            kind: (
                ChangeBudget(per_minute, 60.0),
                ChangeBudget(per_hour, 3600.0),
            )
            for kind, (per_minute, per_hour) in cfg.offer_change_limits().items()
        }

    def _now_us(self) -> int:
        return to_micros(self._clock.wall())

    # ----------------------------------------------------------------- settling

    def settle(self, fails: FailurePolicy) -> None:
        now_us = self._now_us()
        while self._pending and self._pending[0].due_us <= now_us:
            self._run(self._pending.popleft(), fails)

    def _run(self, command: Command, fails: FailurePolicy) -> None:
        at = command.due_us
        tasks = []
        for offer_id in command.offer_ids:
            task = new_task(offer_id, command.kind)
            offer = self.book.find(offer_id)
            if offer is None:
                tasks.append(failed(task, *_UNKNOWN))
                continue
            if fails(command.id, offer_id):
                tasks.append(failed(task, *_BUSY))
                continue
            try:
                apply(self.book, offer, command.change, at)
            except OfferRejected as exc:
                tasks.append(failed(task, exc.code, exc.message))
                continue
            tasks.append({**task, "status": "SUCCESS"})
        command.tasks = tasks
        command.completed_us = at

    # ----------------------------------------------------------------- commands

    def put_command(self, kind: str, command_id: str, raw: bytes) -> tuple[int, Json]:
        """A `PUT` of a command resource after the id was checked: 409 for a used id
        (whatever the body), 4xx for a bad body, 429 past the per-user limits, else 201
        with the first (all-zero) report. Every call is recorded with its body's digest;
        only a registered command uses up its id."""
        parsed: tuple[Change, tuple[str, ...]] | CommandRejected
        try:
            parsed = parse_command(kind, parse_body(raw))
        except CommandRejected as exc:
            parsed = exc
        offers = 0 if isinstance(parsed, CommandRejected) else len(parsed[1])
        try:
            if (kind, command_id) in self._commands:
                raise CommandRejected(409, _REUSED)
            if isinstance(parsed, CommandRejected):
                raise parsed
            status, body = 201, self._register(kind, command_id, *parsed).report()
        except CommandRejected as exc:
            status, body = exc.status, exc.body
        put = CommandPut(command_id, kind, digest(raw), offers, status, iso_millis(self._now_us()))
        self._puts.append(put)
        return status, body

    def _register(
        self, kind: str, command_id: str, change: Change, offer_ids: tuple[str, ...]
    ) -> Command:
        self._spend(kind, len(offer_ids))
        now_us = self._now_us()
        command = Command(command_id, kind, change, offer_ids, now_us, now_us + self._delay_us)
        self._commands[(kind, command_id)] = command
        self._pending.append(command)
        return command

    def _spend(self, kind: str, changes: int) -> None:
        now = self._clock.monotonic()
        budgets = self._budgets[kind]
        if not all(budget.allows(changes, now) for budget in budgets):
            raise CommandRejected(
                429, errors_holder("TooManyRequestsException", "Offer change limit exceeded")
            )
        for budget in budgets:
            budget.spend(changes, now)

    def command(self, kind: str, command_id: str) -> Command:
        command = self._commands.get((kind, command_id))
        if command is None:
            raise CommandNotFound(command_id)
        return command

    def puts(self) -> list[Json]:
        return [put.to_json() for put in self._puts]

    # ----------------------------------------------------------------- offers

    def add(self, specs: Sequence[OfferSpec], *, emit: bool = False) -> list[str]:
        self.book.check(specs)  # all or nothing
        now_us = self._now_us()
        ids = []
        for spec in specs:
            ids.append(self.book.add(spec, now_us, emit=emit).id)
        return ids

    def seed(self, count: int, skus: int, marketplaces: Sequence[str], seed: int) -> list[str]:
        return self.book.seed(count, skus, marketplaces, seed, self._now_us())

    def search(self, query: OfferQuery) -> tuple[list[Json], int]:
        offers, total = self.book.search(query)
        return [listing(offer) for offer in offers], total

    def offer(self, offer_id: str) -> Json:
        return full(self.book.get(offer_id))

    def patch(self, offer_id: str, raw: bytes) -> Json:
        """`PATCH /sale/product-offers/{id}`: OfferNotFound, CommandRejected (4xx), or the
        offer after the change (applied at once: the simulator never answers 202)."""
        offer = self.book.get(offer_id)
        patch = parse_patch(parse_body(raw))
        check(offer, patch)
        apply_patch(self.book, offer, patch, self._now_us())
        return full(offer)

    def sell(self, offer_id: str, quantity: int) -> None:
        self.book.sell(self.book.get(offer_id), quantity, self._now_us())

    def change(
        self,
        offer_id: str,
        *,
        stock: int | None = None,
        price: str | None = None,
        marketplace: str | None = None,
        action: str | None = None,
        ended_by: str = "USER",
    ) -> None:
        """The seller (or Allegro, `ended_by` ADMIN/EXPIRATION...) changes an offer outside
        the API. Stock 0 on an active offer ends it (EMPTY_STOCK). Everything is checked
        before anything changes: ValueError for a bad value, OfferRejected for a change the
        offer's state refuses."""
        offer = self.book.get(offer_id)
        if action not in (None, "END", "ACTIVATE"):
            raise ValueError("action must be END, ACTIVATE or null")
        if ended_by not in ENDED_BY:
            raise ValueError(f"ended_by must be one of {', '.join(ENDED_BY)}")
        if stock is not None and not 0 <= stock <= MAX_STOCK:
            raise ValueError(f"stock must be within 0..{MAX_STOCK}")
        amount = parse_amount(price) if price is not None else None
        marketplace = marketplace or BASE_MARKETPLACE
        prices = {marketplace: amount} if amount is not None else {}
        status = {"END": "ENDED", "ACTIVATE": "ACTIVE", None: None}[action]
        try:
            check(offer, OfferPatch(stock, prices, status))
        except CommandRejected as exc:
            raise OfferRejected("REFUSED", exc.body["errors"][0]["message"]) from None
        now_us = self._now_us()
        if stock is not None:
            self.book.set_stock(offer, stock, now_us)
        if amount is not None:
            self.book.set_price(offer, marketplace, amount, now_us)
        if action == "END":
            self.book.end(offer, ended_by, now_us)
        elif action == "ACTIVATE":
            self.book.activate(offer, now_us)

    def events(self, after: str | None, types: frozenset[str] | None, limit: int) -> list[Json]:
        return self.journal.read(after, types, limit, self._now_us())

    def retained_events(self) -> list[Json]:
        return self.journal.retained(self._now_us())

    def duplicate_event(self, event_id: str) -> None:
        self.journal.duplicate(event_id, self._now_us())


__all__ = ["KINDS", "CommandNotFound", "OfferDesk", "failure_policy"]
