"""The audit the crash test relies on: each broken guarantee is reported (so that test can
fail), and a clean topic reports nothing."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest

from adapters.allegro.translate import read_checkout_form
from adapters.kafka.messages import encode_event
from domain.events import DomainEvent
from domain.mapping import StatusMapping
from domain.order import OrderSnapshot
from domain.statuses import PaymentStatus
from sandbox.allegro import SimulatorConfig, SimulatorState
from tests.support.builders import make_order_imported, make_order_status_changed
from tests.support.expectations import (
    PAID_ORDER_STATUS,
    Expected,
    audit,
    documented_event_id,
    documented_triple,
)
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


def paid_form(fulfillment: str) -> dict[str, Any]:
    """The fields of Allegro's checkout form JSON the status table reads."""
    return {
        "id": ORDER,
        "status": "READY_FOR_PROCESSING",
        "fulfillment": {"status": fulfillment},
        "payment": {"type": "ONLINE", "paidAmount": {"amount": "123.45", "currency": "PLN"}},
    }


def expected(fulfillment: str = "SENT", imports: frozenset[str] = frozenset({ORDER})) -> Expected:
    return Expected(
        account="default",
        imports=imports,
        final_forms={ORDER: paid_form(fulfillment)},
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


def test_an_event_id_off_the_documented_recipe_is_reported():
    stray = dataclasses.replace(SENT, event_id=uuid.uuid5(uuid.NAMESPACE_URL, "elsewhere"))

    result = audit(records(IMPORTED, stray), expected())

    assert list(result.wrong_ids) == [str(stray.event_id)]
    assert result.problems()


ALLEGRO_STATUSES = ("BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "CANCELLED")


@pytest.mark.parametrize("payment_type", ["ONLINE", "CASH_ON_DELIVERY"])
@pytest.mark.parametrize("status", ALLEGRO_STATUSES)
def test_the_service_derives_what_the_documented_table_says(status, payment_type):
    """The service's reading and mapping of a real simulator form, row by row, against the
    table written out in the test support (a swapped row fails here in a second, and in
    every end-to-end audit)."""
    form = _simulator_form()
    form["payment"]["type"] = payment_type
    if payment_type == "CASH_ON_DELIVERY":
        form["payment"]["paidAmount"] = None
    mapping = StatusMapping()
    for fulfillment in [*PAID_ORDER_STATUS, None]:
        form["status"] = status
        form["fulfillment"] = {"status": fulfillment} if fulfillment else None
        for published in (None, "paid"):
            snapshot = read_checkout_form(json.dumps(form))
            assert isinstance(snapshot, OrderSnapshot), snapshot
            previous = PaymentStatus(published) if published else None
            derived = mapping.derive(snapshot, previous)
            service = (derived.order_status, derived.payment_status, derived.fulfillment_status)
            assert service == documented_triple(form, published), (fulfillment, published)


def test_the_service_ids_events_as_documented():
    imported = make_order_imported()
    changed = make_order_status_changed()

    assert str(imported.event_id) == documented_event_id(
        "default", ORDER, imported.revision or "", "OrderImported"
    )
    assert str(changed.event_id) == documented_event_id(
        "default", ORDER, changed.revision or "", "OrderStatusChanged", "shipped", "paid", "SENT"
    )


def _simulator_form() -> dict[str, Any]:
    state = SimulatorState(SimulatorConfig(seed=7))
    state.script_mixed_lifecycles(4, seed=7)
    online = [
        form
        for form in map(state.checkout_form, state.order_ids())
        if form["payment"]["type"] == "ONLINE" and form["payment"]["paidAmount"]
    ]
    return online[0]
