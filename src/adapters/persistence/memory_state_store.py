"""In-memory stores: the one fake of `StateStore` and of `TokenStore` (tests read their state
directly; `tests/support/fakes.py` gathers every port's fake).

They pass the same contract suites as the SQL stores, including refusing what the SQL
schema's CHECK constraints refuse, and committing all or nothing.
Set `fail_with` to make every call raise it, e.g. `StateStoreError("disk full")`: the same
outage switch as the in-memory publisher's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

from adapters.persistence.rows import (
    MAX_ERROR_LENGTH,
    check_content,
    check_limit,
    dead_letter_row,
    require_aware,
    utc_from_text,
)
from adapters.persistence.staged_batch import (
    decided_again,
    decode_staged,
    encode_staged,
    staged_cursor,
)
from application.ports.errors import StateStoreError
from application.ports.state import (
    Cursor,
    ErrorReport,
    FailingOrder,
    PollError,
    Quarantined,
    StagedBatch,
    StateStore,
    TokenPair,
    TokenStore,
)
from domain.policy import OrderRecord


class MemoryStateStore(StateStore):
    def __init__(self) -> None:
        self.cursors: dict[str, Cursor] = {}
        self.records: dict[str, dict[str, OrderRecord]] = {}  # account -> id -> record
        self.failures: dict[str, dict[str, int]] = {}  # account -> id -> attempts
        self.last_errors: dict[str, dict[str, str]] = {}
        self.failed_at: dict[str, dict[str, datetime]] = {}
        self.poll_errors: dict[str, PollError] = {}
        self.staged: dict[str, str] = {}  # account -> encoded batch, as the SQL stores keep it
        self.quarantined: dict[str, dict[str, Quarantined]] = {}  # account -> id -> entry
        self.commits = 0  # successful `commit` calls: how many transactions a batch took
        self.fail_with: Exception | None = None

    async def load_cursor(self, account: str) -> Cursor | None:
        self._maybe_fail()
        return self.cursors.get(account)

    async def load_records(
        self, account: str, checkout_form_ids: Collection[str]
    ) -> Mapping[str, OrderRecord]:
        self._maybe_fail()
        known = self.records.get(account, {})
        return {id_: known[id_] for id_ in checkout_form_ids if id_ in known}

    async def commit(
        self,
        account: str,
        cursor: Cursor | None,
        records: Sequence[OrderRecord] = (),
        cleared_failures: Collection[str] = (),
        quarantined: Sequence[Quarantined] = (),
    ) -> None:
        self._maybe_fail()
        _check_key("account", account)
        if cursor is not None and cursor.position == "":
            raise StateStoreError("a cursor position must not be empty (use None)")
        staged = list(records)  # may raise: nothing has changed yet
        for record in staged:
            _check_key("checkout form id", record.checkout_form_id)
            check_content(record.content)  # what the SQL stores refuse to write
        cleared = list(cleared_failures)
        payload = self.staged.get(account)
        ends = payload is not None and (cursor is not None or staged_cursor(payload) is None)
        rows = [_stored(entry) for entry in quarantined]  # may raise: nothing has changed yet
        if cursor is not None:
            self.cursors[account] = cursor
        self.records.setdefault(account, {}).update(
            (record.checkout_form_id, record) for record in staged
        )
        for checkout_form_id in cleared:
            self.failures.get(account, {}).pop(checkout_form_id, None)
            self.last_errors.get(account, {}).pop(checkout_form_id, None)
            self.failed_at.get(account, {}).pop(checkout_form_id, None)
        if ends:  # see `StateStore.commit`
            self.staged.pop(account, None)
        index = self.quarantined.setdefault(account, {})
        for form_id in decided_again(cleared, quarantined):
            index.pop(form_id, None)
        index.update((entry.checkout_form_id, entry) for entry in rows)
        self.commits += 1

    async def stage(self, account: str, batch: StagedBatch) -> None:
        self._maybe_fail()
        _check_key("account", account)
        self.staged[account] = encode_staged(batch)

    async def load_staged(self, account: str) -> StagedBatch | None:
        self._maybe_fail()
        payload = self.staged.get(account)
        return None if payload is None else decode_staged(payload)

    async def record_failure(self, account: str, checkout_form_id: str, error: str) -> int:
        self._maybe_fail()
        _check_key("account", account)
        _check_key("checkout form id", checkout_form_id)
        counts = self.failures.setdefault(account, {})
        counts[checkout_form_id] = counts.get(checkout_form_id, 0) + 1
        self.last_errors.setdefault(account, {})[checkout_form_id] = error[:MAX_ERROR_LENGTH]
        self.failed_at.setdefault(account, {})[checkout_form_id] = datetime.now(UTC)
        return counts[checkout_form_id]

    async def record_poll_error(self, account: str, message: str, occurred_at: datetime) -> None:
        self._maybe_fail()
        _check_key("account", account)
        moment = require_aware(occurred_at, "occurred_at")
        self.poll_errors[account] = PollError(message[:MAX_ERROR_LENGTH], moment)

    async def load_errors(self, account: str, limit: int = 20) -> ErrorReport:
        self._maybe_fail()
        counts = self.failures.get(account, {})
        failing = [
            FailingOrder(
                checkout_form_id=form_id,
                attempts=attempts,
                last_error=self.last_errors.get(account, {}).get(form_id, ""),
                updated_at=self.failed_at.get(account, {}).get(form_id, datetime.now(UTC)),
            )
            for form_id, attempts in counts.items()
        ]
        failing.sort(key=lambda order: (-order.updated_at.timestamp(), order.checkout_form_id))
        return ErrorReport(self.poll_errors.get(account), tuple(failing[: check_limit(limit)]))

    async def load_quarantined(self, account: str, limit: int = 100) -> tuple[Quarantined, ...]:
        self._maybe_fail()
        entries = sorted(
            self.quarantined.get(account, {}).values(),
            key=lambda entry: (-entry.failed_at.timestamp(), entry.checkout_form_id),
        )
        return tuple(entries[: check_limit(limit)])

    async def clear_failure(self, account: str, checkout_form_id: str) -> bool:
        self._maybe_fail()
        counted = self.failures.get(account, {}).pop(checkout_form_id, None)
        self.last_errors.get(account, {}).pop(checkout_form_id, None)
        self.failed_at.get(account, {}).pop(checkout_form_id, None)
        entry = self.quarantined.get(account, {}).pop(checkout_form_id, None)
        return counted is not None or entry is not None

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with


def _stored(entry: Quarantined) -> Quarantined:
    """As the SQL stores write it (refusing what they refuse) and read it back: the
    error's head, the time in UTC."""
    form_id, event_id, error, attempts, failed_at = dead_letter_row(entry)
    return Quarantined(form_id, event_id, error, attempts, utc_from_text(failed_at))


class MemoryTokenStore(TokenStore):
    """Keeps pairs in clear: there is no rest to encrypt at. `saves` lists every pair saved,
    oldest first, so a test can see each rotation of the single-use refresh token."""

    def __init__(self, pairs: Mapping[str, TokenPair] | None = None) -> None:
        self.pairs: dict[str, TokenPair] = dict(pairs or {})
        self.saves: list[TokenPair] = []
        self.fail_with: Exception | None = None

    async def load(self, account: str) -> TokenPair | None:
        if self.fail_with is not None:
            raise self.fail_with
        return self.pairs.get(account)

    async def save(self, account: str, pair: TokenPair) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        _check_key("account", account)
        require_aware(pair.expires_at)
        self.pairs[account] = pair
        self.saves.append(pair)


def _check_key(what: str, value: str) -> None:
    if not value:
        raise StateStoreError(f"the {what} must not be empty")
