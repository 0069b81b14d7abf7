"""Ten-line fakes for the ports; tests check their state, never call assertions."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.inmemory import InMemoryEventPublisher
from application.ports import (
    CheckoutFormNotFound,
    CheckoutFormPage,
    CheckoutFormQuery,
    CheckoutFormReader,
    Clock,
    Cursor,
    JournalEvent,
    MalformedCheckoutForm,
    OrderEventJournal,
    OutboundMessage,
    PublishError,
    StateStore,
    UnreadableCheckoutForm,
)
from application.ports.publisher import EventPublisher
from application.ports.state import (
    ErrorReport,
    FailingOrder,
    PollError,
    Quarantined,
    StagedBatch,
)
from application.sweep import SweepCheckoutForms
from application.sync_orders import SyncOrders, SyncSettings
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy, OrderRecord

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


class FakeClock(Clock):
    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FakeAllegro(OrderEventJournal, CheckoutFormReader):
    """Journal and checkout forms in one place, like Allegro itself."""

    def __init__(self) -> None:
        self.events: list[JournalEvent] = []
        self.forms: dict[str, OrderSnapshot | UnreadableCheckoutForm] = {}
        self.reads: list[str] = []
        self.searches: list[CheckoutFormQuery] = []
        self.journal_reads: list[str | None] = []  # `fetch`'s `after`, one per request
        self.fail_reads: Exception | None = None

    def emit(self, event_type: str, order: OrderSnapshot, *, store: bool = True) -> JournalEvent:
        seq = len(self.events) + 1
        event = JournalEvent(
            id=str(1773479698020317 + seq),
            type=event_type,
            occurred_at=T0 + timedelta(seconds=seq),
            checkout_form_id=order.id,
            revision=order.revision,
        )
        self.events.append(event)
        if store:
            self.forms[order.id] = order
        return event

    async def fetch(self, after: str | None, limit: int) -> Sequence[JournalEvent]:
        self.journal_reads.append(after)
        newer = [e for e in self.events if after is None or int(e.id) > int(after)]
        return newer[:limit]

    async def latest_event_id(self) -> str | None:
        return self.events[-1].id if self.events else None

    async def get(self, checkout_form_id: str) -> OrderSnapshot:
        self.reads.append(checkout_form_id)
        if self.fail_reads is not None:
            raise self.fail_reads
        form = self.forms.get(checkout_form_id)
        if form is None:
            raise CheckoutFormNotFound(checkout_form_id)
        if isinstance(form, UnreadableCheckoutForm):
            raise MalformedCheckoutForm(form)
        return form

    async def get_raw(self, checkout_form_id: str) -> str:
        form = self.forms.get(checkout_form_id)
        if form is None:
            raise CheckoutFormNotFound(checkout_form_id)
        if isinstance(form, UnreadableCheckoutForm):
            return form.raw
        return json.dumps(dataclasses.asdict(form), default=str, sort_keys=True)

    async def search(self, query: CheckoutFormQuery) -> CheckoutFormPage:
        self.searches.append(query)
        if self.fail_reads is not None:
            raise self.fail_reads
        matching = sorted(
            (f for f in self.forms.values() if _bought_within(f, query)),
            key=lambda f: (
                (_bought_at(f) or T0, f.checkout_form_id or "")
                if isinstance(f, UnreadableCheckoutForm)
                else (_bought_at(f) or T0, f.id)
            ),
        )
        if query.offset + query.limit > 10_000:
            raise AssertionError("offset + limit beyond Allegro's 10 000 window")
        page = matching[query.offset : query.offset + query.limit]
        if query.only_ids is not None:  # left out, as the HTTP adapter leaves them untranslated
            page = [f for f in page if _form_id(f) is None or _form_id(f) in query.only_ids]
        return CheckoutFormPage(tuple(page), len(matching))


def _form_id(form: OrderSnapshot | UnreadableCheckoutForm) -> str | None:
    return form.checkout_form_id if isinstance(form, UnreadableCheckoutForm) else form.id


def _bought_at(form: OrderSnapshot | UnreadableCheckoutForm) -> datetime | None:
    return form.ordered_at if isinstance(form, OrderSnapshot) else None


def _bought_within(form: OrderSnapshot | UnreadableCheckoutForm, query: CheckoutFormQuery) -> bool:
    if isinstance(form, UnreadableCheckoutForm):
        return True  # its dates are unknown; let every window list it
    bought = _bought_at(form)
    if bought is None:
        return query.bought_at_gte is None and query.bought_at_lte is None
    low, high = query.bought_at_gte, query.bought_at_lte
    return (low is None or bought >= low) and (high is None or bought <= high)


class FakePublisher(InMemoryEventPublisher):
    """The in-memory adapter (it passes the publisher contract suite), plus a switchable outage."""

    def __init__(self) -> None:
        super().__init__()
        self.outage = False

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        if self.outage:
            raise PublishError("broker unreachable")
        await super().send(messages)


class FakeStateStore(StateStore):
    def __init__(self) -> None:
        self.cursors: dict[str, Cursor] = {}
        self.records: dict[tuple[str, str], OrderRecord] = {}
        self.failures: dict[tuple[str, str], int] = {}
        self.errors: dict[tuple[str, str], str] = {}
        self.poll_errors: dict[str, PollError] = {}
        self.staged: dict[str, StagedBatch] = {}
        self.quarantined: dict[tuple[str, str], Quarantined] = {}
        self.commits = 0

    async def load_cursor(self, account: str) -> Cursor | None:
        return self.cursors.get(account)

    async def load_records(
        self, account: str, checkout_form_ids: Collection[str]
    ) -> Mapping[str, OrderRecord]:
        found = {i: self.records.get((account, i)) for i in checkout_form_ids}
        return {i: r for i, r in found.items() if r is not None}

    async def commit(
        self,
        account: str,
        cursor: Cursor | None,
        records: Sequence[OrderRecord] = (),
        cleared_failures: Collection[str] = (),
    ) -> None:
        if cursor is not None:
            self.cursors[account] = cursor
        self.records.update({(account, r.checkout_form_id): r for r in records})
        for form_id in cleared_failures:
            self.failures.pop((account, form_id), None)
        staged = self.staged.get(account)
        ended = staged if cursor is not None or (staged and staged.cursor is None) else None
        if ended is not None:
            self.staged.pop(account, None)  # the batch this commit ends (`StateStore.commit`)
        dead = {q.checkout_form_id: q for q in ended.quarantined} if ended else {}
        for form_id in cleared_failures:
            if form_id not in dead:
                self.quarantined.pop((account, form_id), None)
        self.quarantined.update({(account, form_id): q for form_id, q in dead.items()})
        self.commits += 1

    async def stage(self, account: str, batch: StagedBatch) -> None:
        self.staged[account] = batch

    async def load_staged(self, account: str) -> StagedBatch | None:
        return self.staged.get(account)

    async def record_failure(self, account: str, checkout_form_id: str, error: str) -> int:
        key = (account, checkout_form_id)
        self.failures[key] = self.failures.get(key, 0) + 1
        self.errors[key] = error
        return self.failures[key]

    async def record_poll_error(self, account: str, message: str, occurred_at: datetime) -> None:
        self.poll_errors[account] = PollError(message, occurred_at)

    async def load_errors(self, account: str, limit: int = 20) -> ErrorReport:
        failing = [
            FailingOrder(form_id, attempts, self.errors.get((acc, form_id), ""), T0)
            for (acc, form_id), attempts in self.failures.items()
            if acc == account
        ]
        return ErrorReport(self.poll_errors.get(account), tuple(failing[:limit]))

    async def load_quarantined(self, account: str, limit: int = 100) -> tuple[Quarantined, ...]:
        mine = [q for (acc, _), q in self.quarantined.items() if acc == account]
        mine.sort(key=lambda q: (-q.failed_at.timestamp(), q.checkout_form_id))
        return tuple(mine[:limit])

    async def clear_failure(self, account: str, checkout_form_id: str) -> bool:
        counted = self.failures.pop((account, checkout_form_id), None)
        entry = self.quarantined.pop((account, checkout_form_id), None)
        return counted is not None or entry is not None


SYNC_ACCOUNT = "shop-1"


def make_sync(
    allegro: FakeAllegro,
    publisher: EventPublisher,
    state: StateStore,
    *,
    policy: ImportPolicy | None = None,
    **settings: Any,
) -> SyncOrders:
    """`SyncOrders` over the fakes, from the journal's start; `settings` override the rest."""
    options: dict[str, Any] = {"account": SYNC_ACCOUNT, "start_from": "earliest", **settings}
    return SyncOrders(
        journal=allegro,
        forms=allegro,
        publisher=publisher,
        state=state,
        policy=policy or ImportPolicy(account=SYNC_ACCOUNT),
        settings=SyncSettings(**options),
        clock=FakeClock(),
    )


def make_sweep(
    allegro: FakeAllegro,
    publisher: EventPublisher,
    state: StateStore,
    *,
    page_size: int = 100,
    max_attempts: int = 3,
) -> SweepCheckoutForms:
    """`SweepCheckoutForms` over the fakes, for the account `make_sync` reads."""
    return SweepCheckoutForms(
        forms=allegro,
        publisher=publisher,
        state=state,
        policy=ImportPolicy(account=SYNC_ACCOUNT),
        clock=FakeClock(),
        max_attempts=max_attempts,
        page_size=page_size,
    )
