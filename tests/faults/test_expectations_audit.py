"""The audit the crash test relies on: each broken guarantee is reported (so that test can
fail), and a clean topic reports nothing."""

from __future__ import annotations

import dataclasses

from adapters.kafka.messages import encode_event
from domain.events import DomainEvent
from tests.support.builders import (
    make_order_imported,
    make_order_snapshot,
    make_order_status_changed,
)
from tests.support.expectations import Expected, audit
from tests.support.kafka_reader import ConsumedRecord

ORDER = make_order_imported().external_id
IMPORTED = make_order_imported()  # new / paid / NEW at revision 3fa1c09e
SENT = make_order_status_changed()  # shipped / paid / SENT at revision 8b20d4f1


def records(*events: DomainEvent) -> list[ConsumedRecord]:
    consumed = []
    for offset, event in enumerate(events):
        key, value, headers = encode_event(event)
        consumed.append(ConsumedRecord("t", 0, offset, key, value, tuple(headers)))
    return consumed


def expected(fulfillment: str = "SENT", imports: frozenset[str] = frozenset({ORDER})) -> Expected:
    return Expected(
        account="default",
        imports=imports,
        final_forms={ORDER: make_order_snapshot(id=ORDER, fulfillment_status=fulfillment)},
        revisions={ORDER: frozenset({IMPORTED.revision, SENT.revision})},
    )


def test_a_clean_topic_with_a_re_sent_event_has_no_problem():
    result = audit(records(IMPORTED, SENT, SENT), expected())

    assert result.problems() == []
    assert (result.records, result.distinct_ids, result.duplicates) == (3, 2, 1)


def test_a_missing_import_is_reported():
    result = audit(records(), expected())

    assert result.missing_imports == {ORDER}
    assert result.problems()


def test_a_re_sent_event_with_other_bytes_is_reported():
    moved = dataclasses.replace(SENT, reason="READY_FOR_PROCESSING")

    result = audit(records(IMPORTED, SENT, moved), expected())

    assert result.conflicting_ids == {str(SENT.event_id): ["reason"]}
    assert result.problems()


def test_a_last_event_behind_the_final_form_is_reported():
    result = audit(records(IMPORTED), expected(fulfillment="SENT"))

    assert result.wrong_final == {ORDER: (("new", "paid", "NEW"), ("shipped", "paid", "SENT"))}


def test_an_old_event_re_sent_last_is_reported():
    result = audit(records(IMPORTED, SENT, IMPORTED), expected())

    assert ORDER in result.wrong_final


def test_a_change_before_the_import_and_an_unknown_revision_are_reported():
    stray = dataclasses.replace(SENT, revision="never-seen")

    result = audit(records(stray, IMPORTED), expected(fulfillment="NEW"))

    assert result.changed_before_import == {ORDER}
    assert result.unknown_revisions == {ORDER: "never-seen"}


def test_an_import_nobody_expected_is_reported():
    result = audit(records(IMPORTED), expected(imports=frozenset()))

    assert result.unexpected_imports == {ORDER}
