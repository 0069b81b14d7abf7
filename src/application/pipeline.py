"""One batch of checkout forms, from "read, and revealed by this" to committed.

decide → failure accounting → quarantine → stage → send → commit. The journal path
(`SyncOrders`) and the sweep path (`SweepCheckoutForms`: reconciliation, backfill, retry)
both hand their forms here, so both make the same decisions with the same crash guarantee:
the batch is staged before it is sent (see `application.outbox`).

A pipeline serves one account: it is built around that account's stores and outbox, so
serving several accounts is one pipeline each (sharing only the rate budget of their HTTP
clients). Nothing here is global.

A batch that moves the cursor is all or nothing: while one of its forms waits for another
attempt, nothing of it is committed (the cursor would pass the form). A batch that does not
move the cursor (a sweep page) commits what was decided; its failing forms are tried again
by the next sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from application.coalesce import FormEvents
from application.dead_letters import decision_error, describe
from application.outbox import Outbox
from application.ports.allegro import CheckoutFormReader, Loaded, UnreadableCheckoutForm
from application.ports.clock import Clock
from application.ports.errors import (
    AllegroRejected,
    CheckoutFormNotFound,
    MalformedBody,
)
from application.ports.publisher import DeadLetter, EventEncoder
from application.ports.state import (
    Cursor,
    FailureLog,
    OrderRecords,
    Quarantined,
    StagedBatch,
)
from domain.events import RECONCILIATION, DomainEvent
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy, OrderRecord, Revelation

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Revealed:
    """One checkout form as it was read, and what revealed it: the journal events of this
    batch for the form, or None when a sweep listed it (revealed by reconciliation)."""

    checkout_form_id: str
    form: Loaded
    by: FormEvents | None = None


@dataclass(slots=True)
class Delivery:
    """What the pipeline did with one batch."""

    committed: bool = False
    events: list[DomainEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # 404: merged away or past retention
    pending: list[str] = field(default_factory=list)  # failing, not yet quarantined
    failed: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> error, attempts


@dataclass(frozen=True, slots=True)
class _Failure:
    item: Revealed
    raw: str
    error: str
    parsed: bool = False  # `raw` describes the parsed form: fetch Allegro's body to quarantine


@dataclass(slots=True)
class _Decided:
    events: list[DomainEvent] = field(default_factory=list)
    records: list[OrderRecord] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)


class BatchPipeline:
    def __init__(
        self,
        policy: ImportPolicy,
        records: OrderRecords,
        failures: FailureLog,
        encoder: EventEncoder,
        outbox: Outbox,
        forms: CheckoutFormReader,
        clock: Clock,
        max_attempts: int = 3,
    ) -> None:
        if policy.account != outbox.account:
            raise ValueError("the policy and the outbox must serve the same account")
        if max_attempts < 1:
            raise ValueError("max_attempts must be positive")
        self._policy = policy
        self._records = records
        self._failures = failures
        self._encoder = encoder
        self._outbox = outbox
        self._forms = forms
        self._clock = clock
        self._max_attempts = max_attempts
        # Batches committed without a cursor move (sweeps, retries): each may have recorded
        # forms read after anything read ahead of it (see `journal_batches`).
        self.side_commits = 0

    @property
    def account(self) -> str:
        return self._policy.account

    async def resend_staged(self) -> StagedBatch | None:
        """What an interruption left staged, sent and committed: before anything is decided."""
        return await self._outbox.resend_staged()

    async def records(self, checkout_form_ids: Sequence[str]) -> Mapping[str, OrderRecord]:
        return await self._records.load_records(self.account, checkout_form_ids)

    async def run(
        self,
        revealed: Sequence[Revealed],
        *,
        cursor: Cursor | None = None,
        records: Mapping[str, OrderRecord] | None = None,
        quarantine: Sequence[DeadLetter] = (),
    ) -> Delivery:
        """Decide, account failures, quarantine, stage, send and commit `revealed`.

        `cursor`: where the batch moves the journal cursor (None: it stays). `records`: the
        forms' records when the caller already loaded them. `quarantine`: dead letters of
        inputs that name no form (malformed journal entries), sent with the batch."""
        if records is None:
            snapshots = [r.checkout_form_id for r in revealed if isinstance(r.form, OrderSnapshot)]
            records = await self.records(snapshots)
        delivery = Delivery()
        decided = _Decided()
        for item in revealed:
            form = item.form
            if isinstance(form, CheckoutFormNotFound):
                log.info("checkout form gone", extra={"checkout_form_id": item.checkout_form_id})
                delivery.gone.append(item.checkout_form_id)
            elif isinstance(form, UnreadableCheckoutForm):
                decided.failures.append(_Failure(item, form.raw, form.reason))
            else:
                self._decide(item, form, records.get(form.id), decided)
        dead = await self._account_failures(decided.failures, delivery)
        if delivery.pending and cursor is not None:
            return delivery  # the cursor stays before the failing form: nothing is committed
        cleared = (*decided.succeeded, *delivery.gone, *(d.checkout_form_id for d in dead))
        dead.extend(quarantine)
        messages = self._encoder.encode(decided.events, dead)
        quarantined = tuple(Quarantined.of(letter) for letter in dead)
        batch = StagedBatch(cursor, tuple(decided.records), cleared, tuple(messages), quarantined)
        await self._outbox.deliver(batch)
        if cursor is None:
            self.side_commits += 1
        delivery.committed = True
        delivery.events = decided.events
        delivery.dead_letters = dead
        return delivery

    def _decide(
        self, item: Revealed, order: OrderSnapshot, record: OrderRecord | None, out: _Decided
    ) -> None:
        if item.by is None:
            revelation = Revelation(RECONCILIATION, order.updated_at or self._clock.now())
        else:
            revelation = item.by.revelation(order.revision, self._policy.trigger)
        try:
            decision = self._policy.decide(order, record, revelation)
        except Exception as exc:  # see `decision_error`: one form never stops the account
            out.failures.append(_Failure(item, describe(order), decision_error(exc), parsed=True))
            return
        out.events.extend(decision.events)
        if decision.record is not None:
            out.records.append(decision.record)
        out.succeeded.append(order.id)

    async def _account_failures(
        self, failures: list[_Failure], delivery: Delivery
    ) -> list[DeadLetter]:
        """Each failure counted once more; those at `max_attempts` become dead letters."""
        dead: list[DeadLetter] = []
        for failure in failures:
            form_id = failure.item.checkout_form_id
            attempts = await self._failures.record_failure(self.account, form_id, failure.error)
            delivery.failed[form_id] = (failure.error, attempts)
            log.warning(
                "checkout form cannot be mapped",
                extra={"checkout_form_id": form_id, "attempts": attempts, "error": failure.error},
            )
            if attempts < self._max_attempts:
                delivery.pending.append(form_id)
                continue
            by = failure.item.by
            dead.append(
                DeadLetter(
                    account=self.account,
                    checkout_form_id=form_id,
                    allegro_event_id=by.events[-1].id if by is not None else None,
                    raw_payload=await self._body(failure),
                    error=failure.error,
                    attempts=attempts,
                    failed_at=self._clock.now(),
                )
            )
        return dead

    async def _body(self, failure: _Failure) -> str:
        """Allegro's own body for a form that parsed but could not be mapped: one more read,
        once per quarantined order. Not readable any more: the parsed form is all there is."""
        if not failure.parsed:
            return failure.raw
        try:
            return await self._forms.get_raw(failure.item.checkout_form_id)
        except (CheckoutFormNotFound, AllegroRejected, MalformedBody):
            return failure.raw
