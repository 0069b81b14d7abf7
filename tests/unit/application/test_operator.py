"""The operator's tools (issue 12, item 9): moving the cursor, the dead-letter index,
retrying and clearing quarantined orders; on the shared fakes."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import pytest

from application import operator
from application.dead_letters import MALFORMED_EVENT_KEY
from application.operator import (
    OperatorRefusal,
    clear_failure,
    dead_letter_report,
    event_id,
    move_cursor,
    position_at,
    retry_dead_letters,
    target_position,
)
from application.ports import Cursor, PublishError, UnreadableCheckoutForm
from application.ports.state import Quarantined, StagedBatch
from application.reconcile import cursor_time
from application.sweep import RetryResult, SweepCheckoutForms
from domain.events import OrderImported
from tests.support.builders import make_line_item, make_order_snapshot
from tests.support.fakes import (
    SYNC_ACCOUNT,
    T0,
    FakeAllegro,
    InMemoryEventPublisher,
    MemoryStateStore,
    make_sweep,
)

ACCOUNT = SYNC_ACCOUNT


def order(n: int, **overrides: object):  # type: ignore[no-untyped-def]
    return make_order_snapshot(
        id=f"00000000-0000-11f1-8f11-{n:012d}",
        line_items=(make_line_item(bought_at=T0 - timedelta(days=1)),),
        **overrides,
    )


# --- the cursor -------------------------------------------------------------------------


def test_an_event_id_is_digits_only() -> None:
    assert event_id(" 1773479698020317 ") == "1773479698020317"
    for bad in ("", "17734796980x", "-1", "1.5", "١٢٣"):  # the last: Arabic-Indic digits
        with pytest.raises(OperatorRefusal, match="not a journal event id"):
            event_id(bad)


async def test_a_move_stores_the_cursor_and_logs_old_new_and_who(
    state: MemoryStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    state.cursors[ACCOUNT] = Cursor("100")
    caplog.set_level(logging.INFO, logger="application.operator")

    move = await move_cursor(state, ACCOUNT, Cursor("42"), command="cursor set", actor="ops@h")

    assert state.cursors[ACCOUNT] == Cursor("42")
    assert (move.previous, move.current) == (Cursor("100"), Cursor("42"))
    [record] = [r for r in caplog.records if r.getMessage() == "cursor moved"]
    assert (record.previous, record.cursor, record.command, record.by) == (  # type: ignore[attr-defined]
        "100",
        "42",
        "cursor set",
        "ops@h",
    )


async def test_a_move_is_refused_while_a_batch_is_staged(state: MemoryStateStore) -> None:
    state.cursors[ACCOUNT] = Cursor("100")
    staged = StagedBatch(Cursor("150"), (), (), ())
    await state.stage(ACCOUNT, staged)

    with pytest.raises(OperatorRefusal, match="run --once"):
        await move_cursor(state, ACCOUNT, Cursor("42"), command="cursor set", actor="ops@h")

    assert state.cursors[ACCOUNT] == Cursor("100")
    assert await state.load_staged(ACCOUNT) == staged  # still there to be sent


async def test_latest_is_the_newest_event_and_earliest_the_oldest_retained() -> None:
    allegro = FakeAllegro()
    for n in range(3):
        allegro.emit("READY_FOR_PROCESSING", order(n))

    assert await target_position(allegro, "latest", T0) == (Cursor(allegro.events[-1].id), None)
    assert await target_position(allegro, "earliest", T0) == (Cursor(None), None)


async def test_a_date_is_the_last_event_before_it() -> None:
    allegro = FakeAllegro()
    for n in range(2500):  # events one second apart from T0 + 1 s: three journal pages
        allegro.emit("READY_FOR_PROCESSING", order(n % 50))
    # Ids as Allegro's behave: the microsecond timestamps of the events.
    allegro.events = [
        dataclasses.replace(event, id=str(int(event.occurred_at.timestamp() * 1_000_000)))
        for event in allegro.events
    ]
    moment = T0 + timedelta(seconds=1800, microseconds=1)
    now = T0 + timedelta(hours=2)

    cursor, note = await position_at(allegro, moment, now)

    after = await allegro.fetch(cursor.position, 1)
    assert after[0].occurred_at == T0 + timedelta(seconds=1801)  # the first event at/after
    assert note is None


async def test_the_walk_to_a_date_is_bounded_in_journal_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(operator, "PAGE_SIZE", 10)
    allegro = FakeAllegro()
    pages = operator.SEARCH_PAGES + 10
    for n in range(pages * 10):  # every event before the date: the walk never reaches it
        allegro.emit("READY_FOR_PROCESSING", order(n % 50))
    allegro.events = [
        dataclasses.replace(event, id=str(int(event.occurred_at.timestamp() * 1_000_000)))
        for event in allegro.events
    ]
    moment = allegro.events[-1].occurred_at + timedelta(seconds=1)

    cursor, _ = await position_at(allegro, moment, moment + timedelta(hours=1))

    assert len(allegro.journal_reads) == operator.SEARCH_PAGES
    # Stopped early, it lands before the date: events are read again, none is skipped.
    assert cursor.position == allegro.events[operator.SEARCH_PAGES * 10 - 1].id


async def test_a_date_with_no_event_before_it_near_lands_a_margin_early() -> None:
    allegro = FakeAllegro()
    allegro.emit("READY_FOR_PROCESSING", order(1))  # at T0 + 1 s, id far below T0's timestamp
    moment = T0 + timedelta(days=3)

    cursor, _ = await position_at(allegro, moment, moment + timedelta(days=1))

    assert cursor.position is not None
    landed = cursor_time(cursor)
    assert landed is not None
    assert moment - timedelta(hours=1) < landed < moment


async def test_a_date_older_than_the_retention_is_left_to_the_reconciliation_sweep() -> None:
    allegro = FakeAllegro()
    moment = datetime(2026, 1, 1, tzinfo=UTC)

    cursor, note = await position_at(allegro, moment, moment + timedelta(days=59))

    assert cursor_time(cursor) == moment  # `Reconciler.repair_stale_cursor` sweeps from it
    assert note is not None
    assert "sweeps the checkout forms" in note


async def test_a_date_in_the_future_is_refused() -> None:
    with pytest.raises(OperatorRefusal, match="in the future"):
        await position_at(FakeAllegro(), T0 + timedelta(days=1), T0)


# --- dead letters -----------------------------------------------------------------------


async def quarantine_one(
    allegro: FakeAllegro, publisher: InMemoryEventPublisher, state: MemoryStateStore, form_id: str
) -> SweepCheckoutForms:
    """`form_id` unreadable, failed twice through the sweep's path: quarantined."""
    allegro.forms[form_id] = UnreadableCheckoutForm(form_id, "{not json", "invalid JSON")
    sweep = make_sweep(allegro, publisher, state, max_attempts=2)
    for _ in range(2):
        await sweep.run(T0 - timedelta(days=2), T0)
    return sweep


async def test_a_dead_lettered_order_is_listed_with_its_attempts_and_error(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = FakeAllegro()
    await quarantine_one(allegro, publisher, state, "bad")

    report = await dead_letter_report(state, ACCOUNT, 10)

    assert [letter.checkout_form_id for letter in publisher.dead_letters] == ["bad"]
    [entry] = report.quarantined
    assert (entry.checkout_form_id, entry.attempts, entry.error) == ("bad", 2, "invalid JSON")
    assert report.failing == ()  # its failure count became the quarantine entry


async def test_a_fixed_order_retried_is_published_and_leaves_the_index(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = FakeAllegro()
    good = order(7)
    sweep = await quarantine_one(allegro, publisher, state, good.id)
    allegro.forms[good.id] = good  # the seller's data fixed (or our mapping)

    report = await retry_dead_letters(sweep, state, ACCOUNT, None, actor="ops@h")

    assert report.results == (RetryResult(good.id, published=1),)
    assert [type(e) for e in publisher.published] == [OrderImported]
    assert await state.load_quarantined(ACCOUNT) == ()
    again = await retry_dead_letters(sweep, state, ACCOUNT, [good.id], actor="ops@h")
    assert again.results == (RetryResult(good.id, published=0),)  # nothing twice
    assert len(publisher.published) == 1


async def test_an_order_still_failing_stays_quarantined_and_counts(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = FakeAllegro()
    sweep = await quarantine_one(allegro, publisher, state, "bad")

    first = await retry_dead_letters(sweep, state, ACCOUNT, ["bad"], actor="ops@h")
    second = await retry_dead_letters(sweep, state, ACCOUNT, ["bad"], actor="ops@h")

    assert first.results == (RetryResult("bad", error="invalid JSON", attempts=1),)
    assert second.results == (
        RetryResult("bad", error="invalid JSON", attempts=2, quarantined=True),
    )
    assert [entry.checkout_form_id for entry in await state.load_quarantined(ACCOUNT)] == ["bad"]
    assert len(publisher.dead_letters) == 2  # quarantined again: a new dead letter


async def test_an_order_gone_from_allegro_is_cleared(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = FakeAllegro()
    sweep = await quarantine_one(allegro, publisher, state, "merged")
    del allegro.forms["merged"]

    report = await retry_dead_letters(sweep, state, ACCOUNT, None, actor="ops@h")

    assert report.results == (RetryResult("merged", gone=True),)
    assert await state.load_quarantined(ACCOUNT) == ()


async def test_a_retried_page_with_a_gone_order_is_one_commit(
    publisher: InMemoryEventPublisher, state: MemoryStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    allegro = FakeAllegro()
    good = order(8)
    sweep = await quarantine_one(allegro, publisher, state, "merged")
    allegro.forms[good.id] = good
    del allegro.forms["merged"]
    commits: list[tuple[str, ...]] = []
    real_commit = state.commit

    async def counted(account, cursor, records=(), cleared_failures=(), quarantined=()):  # type: ignore[no-untyped-def]
        commits.append(tuple(cleared_failures))
        await real_commit(account, cursor, records, cleared_failures, quarantined)

    monkeypatch.setattr(state, "commit", counted)

    report = await retry_dead_letters(sweep, state, ACCOUNT, ["merged", good.id], actor="ops@h")

    assert report.results == (RetryResult("merged", gone=True), RetryResult(good.id, published=1))
    assert commits == [(good.id, "merged")]  # the decided and the gone order, one transaction
    assert await state.load_quarantined(ACCOUNT) == ()


async def test_a_quarantined_journal_entry_is_skipped_by_all_and_refused_by_name(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = FakeAllegro()
    sweep = make_sweep(allegro, publisher, state)
    key = MALFORMED_EVENT_KEY.format(event_id="17")
    entry = Quarantined(key, "17", "malformed journal event: id", 1, T0)
    await state.stage(ACCOUNT, StagedBatch(Cursor("17"), (), (), (), (entry,)))
    await state.commit(ACCOUNT, Cursor("17"), quarantined=(entry,))

    report = await retry_dead_letters(sweep, state, ACCOUNT, None, actor="ops@h")
    with pytest.raises(OperatorRefusal, match="nothing to read again"):
        await retry_dead_letters(sweep, state, ACCOUNT, [key], actor="ops@h")

    assert (report.results, report.skipped) == ((), (key,))
    assert allegro.reads == []


async def test_clearing_forgets_the_count_and_the_quarantine(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    allegro = FakeAllegro()
    await quarantine_one(allegro, publisher, state, "bad")
    await state.record_failure(ACCOUNT, "other", "unmappable")

    assert await clear_failure(state, ACCOUNT, "bad", actor="ops@h") is True
    assert await clear_failure(state, ACCOUNT, "bad", actor="ops@h") is False

    report = await dead_letter_report(state, ACCOUNT, 10)
    assert report.quarantined == ()
    assert [f.checkout_form_id for f in report.failing] == ["other"]


async def test_an_order_dead_lettered_by_the_journal_path_is_indexed(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    from tests.support.fakes import SYNC_ACCOUNT, make_sync

    allegro = FakeAllegro()
    bad = UnreadableCheckoutForm("bad", "{not json", "invalid JSON")
    allegro.emit("READY_FOR_PROCESSING", order(1))
    allegro.events[-1] = dataclasses.replace(allegro.events[-1], checkout_form_id="bad")
    allegro.forms["bad"] = bad
    sync = make_sync(allegro, publisher, state, max_attempts=1)

    await sync.drain()

    [entry] = await state.load_quarantined(SYNC_ACCOUNT)
    assert (entry.checkout_form_id, entry.attempts, entry.error) == ("bad", 1, "invalid JSON")
    assert entry.allegro_event_id == allegro.events[-1].id


async def test_a_dead_letter_sent_again_after_an_interruption_is_indexed_by_that_commit(
    publisher: InMemoryEventPublisher, state: MemoryStateStore
) -> None:
    from tests.support.fakes import make_sync

    allegro = FakeAllegro()
    allegro.emit("READY_FOR_PROCESSING", order(1))
    allegro.events[-1] = dataclasses.replace(allegro.events[-1], checkout_form_id="bad")
    allegro.forms["bad"] = UnreadableCheckoutForm("bad", "{not json", "invalid JSON")
    sync = make_sync(allegro, publisher, state, max_attempts=1)
    publisher.fail_with = PublishError("broker unreachable")

    with pytest.raises(PublishError):
        await sync.drain()
    staged = await state.load_staged(SYNC_ACCOUNT)
    assert staged is not None
    assert staged.quarantined  # staged with the batch, not yet sent
    assert await state.load_quarantined(SYNC_ACCOUNT) == ()  # not sent: not listed

    publisher.fail_with = None
    await sync.drain()  # the staged batch is sent again, then committed

    [entry] = await state.load_quarantined(SYNC_ACCOUNT)
    assert entry.checkout_form_id == "bad"
    assert [letter.checkout_form_id for letter in publisher.dead_letters] == ["bad"]
