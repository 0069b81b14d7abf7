"""One behaviour, every StateStore: in-memory, SQLite (a file), PostgreSQL (a schema)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import overload

import pytest

from adapters.persistence.rows import MAX_CONTENT_LENGTH
from application.ports.errors import StateStoreError
from application.ports.publisher import DEAD_LETTERS, ORDERS, OutboundMessage
from application.ports.state import (
    Cursor,
    ErrorReport,
    PollError,
    Quarantined,
    StagedBatch,
    StateStore,
)
from domain.mapping import StatusTriple
from domain.policy import OrderRecord
from domain.statuses import OrderStatus, PaymentStatus
from tests.integration.persistence.backends import DURABLE_KINDS, KINDS, Backend, open_backend

ACCOUNT = "shop-a"
OTHER_ACCOUNT = "shop-b"
AT = datetime(2026, 3, 14, 9, 30, 15, 123456, tzinfo=UTC)
# Content fingerprints in the layout of `domain.fingerprint`: digests, not the buyer's data.
CONTENT = "1;buyer=0123456789abcdef;shipping_address=fedcba9876543210;total=00ff00ff00ff00ff"
CHANGED_CONTENT = CONTENT.replace("fedcba9876543210", "0011223344556677")


def make_record(
    checkout_form_id: str = "cf-1",
    revision: str | None = "rev-1",
    order_status: OrderStatus = OrderStatus.NEW,
    payment_status: PaymentStatus = PaymentStatus.PAID,
    fulfillment_status: str | None = "NEW",
    content: str | None = None,
) -> OrderRecord:
    triple = StatusTriple(order_status, payment_status, fulfillment_status)
    return OrderRecord(checkout_form_id, revision, triple, content)


class ExplodingRecords(Sequence[OrderRecord]):
    """Yields its records, then raises: a fault in the middle of a commit."""

    def __init__(self, records: Sequence[OrderRecord], fault: BaseException) -> None:
        self._records = list(records)
        self._fault = fault

    def __iter__(self) -> Iterator[OrderRecord]:
        yield from self._records
        raise self._fault

    def __len__(self) -> int:
        return len(self._records) + 1

    @overload
    def __getitem__(self, index: int) -> OrderRecord: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[OrderRecord]: ...
    def __getitem__(self, index: int | slice) -> OrderRecord | Sequence[OrderRecord]:
        return list(self)[index]


@pytest.fixture(params=KINDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
async def store(backend: Backend) -> StateStore:
    return await backend.state_store()


async def test_no_cursor_before_the_first_commit(store: StateStore) -> None:
    assert await store.load_cursor(ACCOUNT) is None


async def test_a_null_cursor_is_stored_and_differs_from_no_cursor(store: StateStore) -> None:
    await store.commit(ACCOUNT, Cursor(None))

    assert await store.load_cursor(ACCOUNT) == Cursor(None)


async def test_commit_replaces_the_cursor(store: StateStore) -> None:
    await store.commit(ACCOUNT, Cursor("100"))
    await store.commit(ACCOUNT, Cursor("250"))

    assert await store.load_cursor(ACCOUNT) == Cursor("250")


async def test_a_commit_without_a_cursor_keeps_the_stored_one(store: StateStore) -> None:
    await store.commit(ACCOUNT, Cursor("100"))

    await store.commit(ACCOUNT, None, [make_record("cf-1")])

    assert await store.load_cursor(ACCOUNT) == Cursor("100")
    assert set(await store.load_records(ACCOUNT, ["cf-1"])) == {"cf-1"}


async def test_a_commit_without_a_cursor_creates_none(store: StateStore) -> None:
    await store.commit(ACCOUNT, None, [make_record("cf-1")])

    assert await store.load_cursor(ACCOUNT) is None


async def test_load_records_returns_only_the_known_ids_asked_for(store: StateStore) -> None:
    first, second = make_record("cf-1"), make_record("cf-2", revision=None)
    await store.commit(ACCOUNT, Cursor("1"), [first, second, make_record("cf-3")])

    loaded = await store.load_records(ACCOUNT, ["cf-1", "cf-2", "cf-unknown"])

    assert dict(loaded) == {"cf-1": first, "cf-2": second}
    assert dict(await store.load_records(ACCOUNT, [])) == {}


async def test_records_are_upserted_by_checkout_form_id(store: StateStore) -> None:
    await store.commit(ACCOUNT, Cursor("1"), [make_record("cf-1", revision="rev-1")])
    shipped = make_record(
        "cf-1", "rev-2", OrderStatus.SHIPPED, PaymentStatus.CASH_ON_DELIVERY, "SENT"
    )

    await store.commit(ACCOUNT, Cursor("2"), [shipped])

    assert dict(await store.load_records(ACCOUNT, {"cf-1"})) == {"cf-1": shipped}


async def test_every_status_round_trips(store: StateStore) -> None:
    records = [
        make_record(f"cf-{order}-{payment}", f"rev-{order}", order, payment, fulfillment)
        for order in OrderStatus
        for payment in PaymentStatus
        for fulfillment in (None, "READY_FOR_PICKUP")
    ]
    await store.commit(ACCOUNT, Cursor("1"), records)

    loaded = await store.load_records(ACCOUNT, [record.checkout_form_id for record in records])

    assert dict(loaded) == {record.checkout_form_id: record for record in records}


# Content fingerprints (issue 14): kept, replaced and refused like the rest of a record.


async def test_content_fingerprints_round_trip_and_none_stays_none(store: StateStore) -> None:
    with_content = make_record("cf-1", content=CONTENT)
    without = make_record("cf-2", content=None)  # recorded before fingerprints were kept
    await store.commit(ACCOUNT, Cursor("1"), [with_content, without])

    loaded = await store.load_records(ACCOUNT, ["cf-1", "cf-2"])

    assert dict(loaded) == {"cf-1": with_content, "cf-2": without}
    assert loaded["cf-1"].content == CONTENT
    assert loaded["cf-2"].content is None


async def test_an_update_replaces_the_content(store: StateStore) -> None:
    await store.commit(ACCOUNT, Cursor("1"), [make_record("cf-1", "rev-1", content=None)])
    first = make_record("cf-1", "rev-2", content=CONTENT)
    await store.commit(ACCOUNT, Cursor("2"), [first])
    assert dict(await store.load_records(ACCOUNT, ["cf-1"])) == {"cf-1": first}

    changed = make_record("cf-1", "rev-3", content=CHANGED_CONTENT)
    await store.commit(ACCOUNT, Cursor("3"), [changed])
    assert dict(await store.load_records(ACCOUNT, ["cf-1"])) == {"cf-1": changed}

    # Replaced as given, like the revision: the store does not keep an older value.
    cleared = make_record("cf-1", "rev-4", content=None)
    await store.commit(ACCOUNT, Cursor("4"), [cleared])
    assert dict(await store.load_records(ACCOUNT, ["cf-1"])) == {"cf-1": cleared}


async def test_a_content_of_the_largest_size_allowed_round_trips(store: StateStore) -> None:
    largest = "1;" + "a" * (MAX_CONTENT_LENGTH - 2)
    record = make_record("cf-1", content=largest)

    await store.commit(ACCOUNT, Cursor("1"), [record])

    assert dict(await store.load_records(ACCOUNT, ["cf-1"])) == {"cf-1": record}


BAD_CONTENTS = pytest.mark.parametrize(
    "content",
    [
        "",
        "1;" + "a" * (MAX_CONTENT_LENGTH - 1),
        CONTENT + "\n",
        "1;buyer=\x00",
        "1;buyer=\x7f",
        "1;buyer=\x85",
    ],
    ids=["empty", "over-the-bound", "newline", "nul", "del", "c1-control"],
)


@BAD_CONTENTS
async def test_a_content_the_store_refuses_changes_nothing(store: StateStore, content: str) -> None:
    before = await arrange_committed_state(store)
    records = [
        make_record("cf-1", revision="rev-2", order_status=OrderStatus.SHIPPED),
        make_record("cf-2", content=content),
    ]

    with pytest.raises(StateStoreError, match="content"):
        await store.commit(ACCOUNT, Cursor("200"), records, cleared_failures=["cf-3"])

    await assert_unchanged(store, before)


@BAD_CONTENTS
async def test_a_batch_with_a_content_the_store_refuses_is_not_staged(
    store: StateStore, content: str
) -> None:
    await store.stage(ACCOUNT, make_batch())
    batch = StagedBatch(None, (make_record("cf-1", content=content),), (), ())

    with pytest.raises(StateStoreError, match="content"):
        await store.stage(ACCOUNT, batch)

    assert await store.load_staged(ACCOUNT) == make_batch()


async def test_many_ids_load_in_one_call(store: StateStore) -> None:
    records = [make_record(f"cf-{n}") for n in range(3000)]
    await store.commit(ACCOUNT, Cursor("1"), records)

    loaded = await store.load_records(ACCOUNT, [f"cf-{n}" for n in range(0, 6000, 2)])

    assert set(loaded) == {f"cf-{n}" for n in range(0, 3000, 2)}


async def test_accounts_do_not_see_each_other(store: StateStore) -> None:
    await store.commit(ACCOUNT, Cursor("10"), [make_record("cf-1")])
    await store.record_failure(ACCOUNT, "cf-9", "boom")

    assert await store.load_cursor(OTHER_ACCOUNT) is None
    assert dict(await store.load_records(OTHER_ACCOUNT, ["cf-1"])) == {}
    assert await store.record_failure(OTHER_ACCOUNT, "cf-9", "boom") == 1


async def test_record_failure_counts_each_order_separately(store: StateStore) -> None:
    counts = [await store.record_failure(ACCOUNT, "cf-1", f"attempt {n}") for n in range(3)]

    assert counts == [1, 2, 3]
    assert await store.record_failure(ACCOUNT, "cf-2", "boom") == 1


async def test_concurrent_failures_are_all_counted(store: StateStore) -> None:
    counts = await asyncio.gather(*(store.record_failure(ACCOUNT, "cf-1", "x") for _ in range(20)))

    assert sorted(counts) == list(range(1, 21))


async def test_a_long_error_is_accepted(store: StateStore) -> None:
    assert await store.record_failure(ACCOUNT, "cf-1", "traceback line\n" * 10_000) == 1


async def test_commit_clears_only_the_failures_named(store: StateStore) -> None:
    await store.record_failure(ACCOUNT, "cf-1", "boom")
    await store.record_failure(ACCOUNT, "cf-2", "boom")
    await store.record_failure(OTHER_ACCOUNT, "cf-1", "boom")

    await store.commit(ACCOUNT, Cursor("5"), cleared_failures={"cf-1", "cf-never-failed"})

    assert await store.record_failure(ACCOUNT, "cf-1", "boom") == 1
    assert await store.record_failure(ACCOUNT, "cf-2", "boom") == 2
    assert await store.record_failure(OTHER_ACCOUNT, "cf-1", "boom") == 2


EVERY_BYTE = bytes(range(256))
STAGED_CURSOR = Cursor("300")


def make_batch(cursor: Cursor | None = STAGED_CURSOR, tag: bytes = b"") -> StagedBatch:
    return StagedBatch(
        cursor=cursor,
        records=(
            make_record(
                "cf-1", revision="rev-2", order_status=OrderStatus.SHIPPED, content=CONTENT
            ),
            make_record("cf-2", revision=None, fulfillment_status=None),
        ),
        cleared_failures=("cf-3", "cf-4"),
        messages=(
            OutboundMessage(
                ORDERS,
                b"cf-1" + tag,
                EVERY_BYTE + tag,
                (("event-type", b"OrderShipped"), ("binary", EVERY_BYTE[::-1])),
            ),
            OutboundMessage(ORDERS, b"", b"", ()),
            OutboundMessage(
                DEAD_LETTERS, EVERY_BYTE, b'{"json": "\\u0000"}', (("", b""), ("zażółć", b"\x00"))
            ),
        ),
    )


async def arrange_committed_state(store: StateStore) -> OrderRecord:
    before = make_record("cf-1", revision="rev-1")
    await store.commit(ACCOUNT, Cursor("100"), [before])
    await store.record_failure(ACCOUNT, "cf-3", "boom")
    await store.stage(ACCOUNT, make_batch())
    return before


async def assert_unchanged(store: StateStore, before: OrderRecord) -> None:
    assert await store.load_cursor(ACCOUNT) == Cursor("100")
    assert dict(await store.load_records(ACCOUNT, ["cf-1", "cf-2"])) == {"cf-1": before}
    assert await store.record_failure(ACCOUNT, "cf-3", "boom") == 2  # not cleared
    assert await store.load_staged(ACCOUNT) == make_batch()  # still there to re-send


async def test_a_commit_that_violates_a_constraint_changes_nothing(store: StateStore) -> None:
    before = await arrange_committed_state(store)
    records = [
        make_record("cf-1", revision="rev-2", order_status=OrderStatus.SHIPPED),
        make_record("cf-2"),
        make_record(""),  # refused by the store, after the two above were written
    ]

    with pytest.raises(StateStoreError):
        await store.commit(ACCOUNT, Cursor("200"), records, cleared_failures=["cf-3"])

    await assert_unchanged(store, before)


@pytest.mark.parametrize(
    "fault", [RuntimeError("injected"), asyncio.CancelledError()], ids=["error", "cancelled"]
)
async def test_a_fault_midway_through_a_commit_changes_nothing(
    store: StateStore, fault: BaseException
) -> None:
    before = await arrange_committed_state(store)
    changed = make_record("cf-1", revision="rev-2", order_status=OrderStatus.SHIPPED)
    records = ExplodingRecords([changed, make_record("cf-2")], fault)

    with pytest.raises(type(fault)):
        await store.commit(ACCOUNT, Cursor("200"), records, cleared_failures=["cf-3"])

    await assert_unchanged(store, before)


async def test_the_store_works_after_a_failed_commit(store: StateStore) -> None:
    with pytest.raises(StateStoreError):
        await store.commit(ACCOUNT, Cursor("1"), [make_record("")])

    await store.commit(ACCOUNT, Cursor("2"), [make_record("cf-1")])

    assert await store.load_cursor(ACCOUNT) == Cursor("2")


async def test_an_empty_cursor_position_is_refused(store: StateStore) -> None:
    with pytest.raises(StateStoreError):
        await store.commit(ACCOUNT, Cursor(""))

    assert await store.load_cursor(ACCOUNT) is None


@pytest.mark.parametrize("kind", DURABLE_KINDS)
async def test_everything_survives_reopening_the_store(kind: str, tmp_path: Path) -> None:
    record = make_record("cf-1", fulfillment_status=None, content=CONTENT)
    async with open_backend(kind, tmp_path) as backend:
        first = await backend.state_store()
        await first.commit(ACCOUNT, Cursor("42"), [record])
        await first.commit(OTHER_ACCOUNT, Cursor(None))
        await first.record_failure(ACCOUNT, "cf-2", "boom")
        await first.record_poll_error(ACCOUNT, "AllegroUnavailable: timeout", AT)
        await backend.close_stores()

        reopened = await backend.state_store()

        assert await reopened.load_cursor(ACCOUNT) == Cursor("42")
        assert await reopened.load_cursor(OTHER_ACCOUNT) == Cursor(None)
        assert dict(await reopened.load_records(ACCOUNT, ["cf-1"])) == {"cf-1": record}
        assert (await reopened.load_errors(ACCOUNT)).last_poll_error == PollError(
            "AllegroUnavailable: timeout", AT
        )
        assert await reopened.record_failure(ACCOUNT, "cf-2", "boom") == 2


async def test_no_errors_are_reported_for_a_new_account(store: StateStore) -> None:
    assert await store.load_errors(ACCOUNT) == ErrorReport()


async def test_the_last_poll_error_round_trips_and_replaces_the_previous(
    store: StateStore,
) -> None:
    await store.record_poll_error(ACCOUNT, "AllegroUnavailable: HTTP 503", AT)
    warsaw = timezone(timedelta(hours=1))
    later = datetime(2026, 3, 14, 11, 0, tzinfo=warsaw)

    await store.record_poll_error(ACCOUNT, "PublishError: broker down", later)

    report = await store.load_errors(ACCOUNT)
    assert report.last_poll_error == PollError("PublishError: broker down", later)
    assert report.last_poll_error is not None
    assert report.last_poll_error.occurred_at.utcoffset() == timedelta(0)
    assert (await store.load_errors(OTHER_ACCOUNT)).last_poll_error is None


async def test_a_poll_error_at_a_naive_time_is_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.record_poll_error(ACCOUNT, "boom", datetime(2026, 3, 14, 9, 0))

    assert (await store.load_errors(ACCOUNT)).last_poll_error is None


async def test_a_long_poll_error_is_kept_as_its_head(store: StateStore) -> None:
    await store.record_poll_error(ACCOUNT, "x" * 100_000, AT)

    report = await store.load_errors(ACCOUNT)

    assert report.last_poll_error is not None
    assert 100 <= len(report.last_poll_error.message) < 100_000


async def test_failing_orders_are_reported_with_attempts_and_last_error(
    store: StateStore,
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    await store.record_failure(ACCOUNT, "cf-1", "first")
    await store.record_failure(ACCOUNT, "cf-1", "second")
    await store.record_failure(ACCOUNT, "cf-2", "other")
    await store.record_failure(OTHER_ACCOUNT, "cf-9", "elsewhere")

    report = await store.load_errors(ACCOUNT)

    failing = {order.checkout_form_id: order for order in report.failing_orders}
    assert set(failing) == {"cf-1", "cf-2"}
    assert (failing["cf-1"].attempts, failing["cf-1"].last_error) == (2, "second")
    assert (failing["cf-2"].attempts, failing["cf-2"].last_error) == (1, "other")
    assert all(order.updated_at >= before for order in report.failing_orders)
    assert all(order.updated_at.utcoffset() == timedelta(0) for order in report.failing_orders)


async def test_cleared_failures_are_no_longer_reported(store: StateStore) -> None:
    await store.record_failure(ACCOUNT, "cf-1", "boom")
    await store.record_failure(ACCOUNT, "cf-2", "boom")

    await store.commit(ACCOUNT, Cursor("5"), cleared_failures=["cf-1"])

    report = await store.load_errors(ACCOUNT)
    assert [order.checkout_form_id for order in report.failing_orders] == ["cf-2"]


async def test_the_failing_orders_reported_are_limited(store: StateStore) -> None:
    for n in range(5):
        await store.record_failure(ACCOUNT, f"cf-{n}", "boom")

    assert len((await store.load_errors(ACCOUNT, limit=3)).failing_orders) == 3
    assert (await store.load_errors(ACCOUNT, limit=0)).failing_orders == ()


async def test_nothing_is_staged_at_first(store: StateStore) -> None:
    assert await store.load_staged(ACCOUNT) is None


@pytest.mark.parametrize(
    "cursor", [Cursor("300"), Cursor(None), None], ids=["cursor", "null-position", "no-cursor"]
)
async def test_a_staged_batch_round_trips_exactly(store: StateStore, cursor: Cursor | None) -> None:
    batch = make_batch(cursor)

    await store.stage(ACCOUNT, batch)

    loaded = await store.load_staged(ACCOUNT)
    assert loaded == batch
    assert loaded is not None
    assert loaded.messages[0].value == EVERY_BYTE
    assert isinstance(loaded.records, tuple)
    assert isinstance(loaded.messages[0].headers, tuple)


async def test_an_empty_batch_round_trips(store: StateStore) -> None:
    batch = StagedBatch(None, (), (), ())

    await store.stage(ACCOUNT, batch)

    assert await store.load_staged(ACCOUNT) == batch


async def test_staging_again_replaces_the_staged_batch(store: StateStore) -> None:
    await store.stage(ACCOUNT, make_batch(Cursor("300"), tag=b"first"))
    second = make_batch(Cursor("400"), tag=b"second")

    await store.stage(ACCOUNT, second)

    assert await store.load_staged(ACCOUNT) == second


async def test_a_commit_deletes_the_staged_batch_with_the_rest(store: StateStore) -> None:
    batch = make_batch()
    await store.stage(ACCOUNT, batch)

    await store.commit(ACCOUNT, batch.cursor, batch.records, batch.cleared_failures)

    assert await store.load_staged(ACCOUNT) is None
    assert await store.load_cursor(ACCOUNT) == Cursor("300")
    assert dict(await store.load_records(ACCOUNT, ["cf-1", "cf-2"])) == {
        record.checkout_form_id: record for record in batch.records
    }


async def test_a_commit_without_a_cursor_leaves_the_staged_batch(store: StateStore) -> None:
    # A sweep commits orders without a cursor; the journal's staged batch must survive it.
    batch = make_batch(Cursor("100"))
    await store.stage(ACCOUNT, batch)

    await store.commit(ACCOUNT, None, [make_record("cf-9")])

    assert await store.load_staged(ACCOUNT) == batch


async def test_a_commit_without_a_cursor_deletes_a_staged_sweep_page(store: StateStore) -> None:
    # A sweep stages its page without a cursor: that page's commit (or its re-send's) ends it.
    await store.commit(ACCOUNT, Cursor("100"))
    page = make_batch(None)
    await store.stage(ACCOUNT, page)

    await store.commit(ACCOUNT, None, page.records, page.cleared_failures)

    assert await store.load_staged(ACCOUNT) is None
    assert await store.load_cursor(ACCOUNT) == Cursor("100")
    assert dict(await store.load_records(ACCOUNT, ["cf-1", "cf-2"])) == {
        record.checkout_form_id: record for record in page.records
    }


async def test_accounts_do_not_see_each_other_s_staged_batch(store: StateStore) -> None:
    mine, theirs = make_batch(tag=b"mine"), make_batch(Cursor("7"), tag=b"theirs")
    await store.stage(ACCOUNT, mine)

    assert await store.load_staged(OTHER_ACCOUNT) is None

    await store.stage(OTHER_ACCOUNT, theirs)
    await store.commit(OTHER_ACCOUNT, Cursor("7"))

    assert await store.load_staged(ACCOUNT) == mine
    assert await store.load_staged(OTHER_ACCOUNT) is None


@pytest.mark.parametrize(
    "batch",
    [
        make_batch(Cursor("")),
        StagedBatch(None, (make_record(""),), (), ()),
    ],
    ids=["empty-cursor-position", "empty-checkout-form-id"],
)
async def test_a_batch_that_could_not_commit_is_not_staged(
    store: StateStore, batch: StagedBatch
) -> None:
    await store.stage(ACCOUNT, make_batch())

    with pytest.raises(StateStoreError):
        await store.stage(ACCOUNT, batch)

    assert await store.load_staged(ACCOUNT) == make_batch()


async def test_staging_for_an_empty_account_is_refused(store: StateStore) -> None:
    with pytest.raises(StateStoreError):
        await store.stage("", make_batch())


@pytest.mark.parametrize("kind", DURABLE_KINDS)
async def test_a_staged_batch_survives_reopening_the_store(kind: str, tmp_path: Path) -> None:
    batch = make_batch()
    async with open_backend(kind, tmp_path) as backend:
        first = await backend.state_store()
        await first.stage(ACCOUNT, batch)
        await backend.close_stores()

        reopened = await backend.state_store()

        assert await reopened.load_staged(ACCOUNT) == batch
        await reopened.commit(ACCOUNT, batch.cursor, batch.records, batch.cleared_failures)
        await backend.close_stores()

        assert await (await backend.state_store()).load_staged(ACCOUNT) is None


# The dead-letter index (issue 12, item 9): written by the commit that ends the staged batch
# carrying the dead letters, dropped when an order is decided again or cleared.


def quarantine(form_id: str, at: datetime = AT, attempts: int = 3) -> Quarantined:
    return Quarantined(form_id, f"ev-{form_id}", f"unmappable {form_id}", attempts, at)


def batch_quarantining(
    cursor: Cursor | None, *entries: Quarantined, cleared: tuple[str, ...] = ()
) -> StagedBatch:
    ids = tuple(entry.checkout_form_id for entry in entries)
    message = OutboundMessage(DEAD_LETTERS, b"dlq", b"{}", ())
    return StagedBatch(cursor, (), (*cleared, *ids), (message,) * len(entries), entries)


async def deliver_batch(store: StateStore, batch: StagedBatch) -> None:
    """What the outbox does: stage, (send,) commit."""
    await store.stage(ACCOUNT, batch)
    await store.commit(
        ACCOUNT, batch.cursor, batch.records, batch.cleared_failures, batch.quarantined
    )


async def test_nothing_is_quarantined_at_first(store: StateStore) -> None:
    assert await store.load_quarantined(ACCOUNT) == ()


@pytest.mark.parametrize("cursor", [Cursor("500"), None], ids=["journal", "sweep"])
async def test_the_commit_ending_a_batch_indexes_its_dead_letters(
    store: StateStore, cursor: Cursor | None
) -> None:
    await store.record_failure(ACCOUNT, "cf-dead", "unmappable cf-dead")
    entry = quarantine("cf-dead")

    await deliver_batch(store, batch_quarantining(cursor, entry))

    assert await store.load_quarantined(ACCOUNT) == (entry,)
    assert (await store.load_errors(ACCOUNT)).failing_orders == ()  # the count moved over
    assert await store.load_quarantined(OTHER_ACCOUNT) == ()


async def test_a_staged_batch_round_trips_its_dead_letters(store: StateStore) -> None:
    batch = batch_quarantining(Cursor("500"), quarantine("cf-a"), quarantine("cf-b"))

    await store.stage(ACCOUNT, batch)

    assert await store.load_staged(ACCOUNT) == batch
    assert await store.load_quarantined(ACCOUNT) == ()  # not sent yet: not quarantined yet


async def test_a_commit_that_ends_no_batch_indexes_nothing(store: StateStore) -> None:
    # A journal batch is staged; a sweep's commit without a cursor does not end it.
    await store.stage(ACCOUNT, batch_quarantining(Cursor("500"), quarantine("cf-a")))

    await store.commit(ACCOUNT, None, [make_record("cf-9")], ["cf-9"])

    assert await store.load_quarantined(ACCOUNT) == ()


async def test_quarantined_entries_are_listed_newest_first_and_limited(
    store: StateStore,
) -> None:
    older = quarantine("cf-b", AT - timedelta(hours=1))
    newer = quarantine("cf-a", AT)
    tie = quarantine("cf-c", AT)
    await deliver_batch(store, batch_quarantining(Cursor("1"), older, newer, tie))

    assert await store.load_quarantined(ACCOUNT) == (newer, tie, older)
    assert await store.load_quarantined(ACCOUNT, limit=1) == (newer,)


async def test_quarantining_again_replaces_the_entry(store: StateStore) -> None:
    await deliver_batch(store, batch_quarantining(Cursor("1"), quarantine("cf-a", attempts=3)))
    again = quarantine("cf-a", AT + timedelta(days=1), attempts=5)

    await deliver_batch(store, batch_quarantining(None, again))

    assert await store.load_quarantined(ACCOUNT) == (again,)


async def test_an_order_decided_again_leaves_the_index(store: StateStore) -> None:
    await deliver_batch(
        store, batch_quarantining(Cursor("1"), quarantine("cf-a"), quarantine("cf-b"))
    )

    # cf-a imported (or gone) at last, cf-b quarantined again in the same batch.
    again = quarantine("cf-b", AT + timedelta(minutes=1))
    await deliver_batch(store, batch_quarantining(Cursor("2"), again, cleared=("cf-a",)))

    assert await store.load_quarantined(ACCOUNT) == (again,)


async def test_an_empty_quarantined_id_is_refused_when_staged(store: StateStore) -> None:
    with pytest.raises(StateStoreError):
        await store.stage(ACCOUNT, batch_quarantining(Cursor("1"), quarantine("")))

    assert await store.load_staged(ACCOUNT) is None


async def test_clear_failure_forgets_the_count_and_the_quarantine(store: StateStore) -> None:
    await deliver_batch(store, batch_quarantining(Cursor("1"), quarantine("cf-a")))
    await store.record_failure(ACCOUNT, "cf-a", "still unmappable")
    await store.record_failure(ACCOUNT, "cf-b", "unmappable")

    assert await store.clear_failure(ACCOUNT, "cf-a") is True

    assert await store.load_quarantined(ACCOUNT) == ()
    failing = (await store.load_errors(ACCOUNT)).failing_orders
    assert [order.checkout_form_id for order in failing] == ["cf-b"]
    assert await store.record_failure(ACCOUNT, "cf-a", "again") == 1  # counts from one


async def test_clear_failure_of_an_unknown_order_says_so(store: StateStore) -> None:
    await store.record_failure(OTHER_ACCOUNT, "cf-a", "unmappable")

    assert await store.clear_failure(ACCOUNT, "cf-a") is False
    assert await store.record_failure(OTHER_ACCOUNT, "cf-a", "unmappable") == 2


@pytest.mark.parametrize("kind", DURABLE_KINDS)
async def test_the_dead_letter_index_survives_reopening(kind: str, tmp_path: Path) -> None:
    warsaw_summer = timezone(timedelta(hours=2))
    entry = quarantine("cf-a", datetime(2026, 3, 14, 9, 30, 15, tzinfo=warsaw_summer))
    async with open_backend(kind, tmp_path) as backend:
        first = await backend.state_store()
        await deliver_batch(first, batch_quarantining(Cursor("1"), entry))
        await backend.close_stores()

        reopened = await backend.state_store()

        (loaded,) = await reopened.load_quarantined(ACCOUNT)
        assert loaded == entry  # the same instant, whatever the zone it was given in
        assert loaded.failed_at.utcoffset() == timedelta(0)
