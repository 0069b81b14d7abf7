"""The fields added to the order messages within v1, and the `OrderUpdated` message
(README.md, Messages; contracts/COMPATIBILITY.md)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.kafka.messages import (
    OrderImportedMessage,
    OrderUpdatedMessage,
    encode_event,
    quarantine_record,
)
from domain.order import LineItemTax
from tests.support.builders import make_line_item, make_order_imported, make_payment, pln
from tests.unit.kafka.builders import make_order_updated
from tests.unit.kafka.test_messages import ORDER_IMPORTED_FIELDS

REPO_ROOT = Path(__file__).resolve().parents[3]
WARSAW_SUMMER = timezone(timedelta(hours=2))

SURCHARGE = make_payment(
    id="7e2b9c14-ea31-11f1-9d3a-02fc00000009",
    type="ONLINE",
    provider="PAYU",
    finished_at=datetime(2026, 3, 14, 18, 2, 3, 450000, tzinfo=UTC),
    paid_amount=pln("12.50"),
)
NEW_FIELDS: dict[str, Any] = {
    "fulfillment_provider": "ALLEGRO",
    "dispatch_by": datetime(2026, 3, 16, 1, 59, 59, tzinfo=WARSAW_SUMMER),
    "total_to_pay": Decimal("93.47"),
    "surcharges": (SURCHARGE,),
    "payment_id": "16a02f51-ea25-11f1-9c2e-02fc00000002",
    "payment_provider": "P24",
    "buyer_id": "5968875",
    "line_items_sent": "SOME",
    "line_items": (make_line_item(tax=LineItemTax(rate="8.00", subject="GOODS", exemption=None)),),
}


def value_of(record_value: bytes) -> dict[str, Any]:
    return json.loads(record_value)  # type: ignore[no-any-return]


def test_the_new_order_fields_come_from_the_event() -> None:
    value = value_of(encode_event(make_order_imported(**NEW_FIELDS)).value)

    assert value["fulfillment_provider"] == "ALLEGRO"
    assert value["dispatch_by"] == "2026-03-15T23:59:59Z"  # 01:59:59 at +02:00
    assert value["total_to_pay"] == "93.47"
    assert value["surcharges"] == [
        {
            "id": "7e2b9c14-ea31-11f1-9d3a-02fc00000009",
            "type": "ONLINE",
            "provider": "PAYU",
            "paid_at": "2026-03-14T18:02:03.450000Z",
            "amount": "12.50",
            "currency": "PLN",
        }
    ]
    assert value["payment_id"] == "16a02f51-ea25-11f1-9c2e-02fc00000002"
    assert value["payment_provider"] == "P24"
    assert value["buyer_id"] == "5968875"
    assert value["line_items_sent"] == "SOME"
    assert value["line_items"][0]["tax"] == {"rate": "8.00", "subject": "GOODS", "exemption": None}


def test_an_order_without_them_sends_every_one_null_or_empty() -> None:
    # an event built before the fields existed: the producer still sends every field
    value = value_of(encode_event(make_order_imported()).value)

    assert list(value)[-8:] == ORDER_IMPORTED_FIELDS[-8:]
    assert {name: value[name] for name in ORDER_IMPORTED_FIELDS[-8:]} == {
        "fulfillment_provider": None,
        "dispatch_by": None,
        "total_to_pay": None,
        "surcharges": [],
        "payment_id": None,
        "payment_provider": None,
        "buyer_id": None,
        "line_items_sent": None,
    }
    assert value["line_items"][0]["tax"] is None


def test_a_surcharge_not_paid_yet_has_no_amount_time_or_currency() -> None:
    pending = dataclasses.replace(SURCHARGE, finished_at=None, paid_amount=None)

    value = value_of(encode_event(make_order_imported(surcharges=(pending,))).value)

    assert value["surcharges"] == [
        {
            "id": SURCHARGE.id,
            "type": "ONLINE",
            "provider": "PAYU",
            "paid_at": None,
            "amount": None,
            "currency": None,
        }
    ]


def test_money_in_the_new_fields_is_an_exact_decimal_string_never_a_float() -> None:
    surcharge = dataclasses.replace(SURCHARGE, paid_amount=pln("70"))
    raw = encode_event(
        make_order_imported(total_to_pay=Decimal("1E+2"), surcharges=(surcharge,))
    ).value

    floats: list[str] = []
    value = json.loads(raw, parse_float=floats.append)

    assert floats == []
    assert (value["total_to_pay"], value["surcharges"][0]["amount"]) == ("100", "70")


def test_order_updated_is_the_whole_order_plus_what_changed() -> None:
    event = make_order_updated(changed=("shipping_address", "total_to_pay"), **NEW_FIELDS)

    value = value_of(encode_event(event).value)

    assert list(value) == [*ORDER_IMPORTED_FIELDS, "changed"]
    assert value["event_type"] == "OrderUpdated"
    assert value["event_id"] == str(event.event_id)
    assert value["changed"] == ["shipping_address", "total_to_pay"]
    assert value["fulfillment_provider"] == "ALLEGRO"
    assert value["line_items"][0]["tax"]["rate"] == "8.00"
    # every other field reads exactly as the OrderImported of the same order
    imported = value_of(encode_event(make_order_imported(**NEW_FIELDS)).value)
    own = {"event_id", "event_type", "changed"}
    assert {k: v for k, v in value.items() if k not in own} == {
        k: v for k, v in imported.items() if k not in own
    }


def test_order_updated_goes_with_its_own_ce_type_and_the_order_key() -> None:
    event = make_order_updated(occurred_at=datetime(2026, 3, 14, 20, 0, 1, tzinfo=WARSAW_SUMMER))

    record = encode_event(event)

    assert record.key == event.external_id.encode()
    assert record.headers == [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(event.event_id).encode()),
        ("ce_source", b"allegro/default"),
        ("ce_type", b"openoms.order.updated.v1"),
        ("ce_subject", event.external_id.encode()),
        ("ce_time", b"2026-03-14T18:00:01Z"),
        ("content-type", b"application/json"),
    ]


def test_the_same_order_updated_encodes_to_identical_bytes() -> None:
    event = make_order_updated(changed=("surcharges", "total_to_pay"), **NEW_FIELDS)

    first = encode_event(event)
    second = encode_event(dataclasses.replace(event))

    assert first == second
    assert encode_event(dataclasses.replace(event, changed=("surcharges",))) != first


def test_the_same_order_updated_encodes_to_identical_bytes_in_a_fresh_process() -> None:
    program = (
        "import sys\n"
        "from adapters.kafka.messages import encode_event\n"
        "from tests.unit.kafka.builders import make_order_updated\n"
        "sys.stdout.buffer.write(encode_event(make_order_updated()).value)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4242"}

    child = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )

    assert child.stdout == encode_event(make_order_updated()).value


def test_values_with_the_new_fields_parse_back_into_their_message_models() -> None:
    imported = encode_event(make_order_imported(**NEW_FIELDS)).value
    updated = encode_event(make_order_updated(**NEW_FIELDS)).value

    assert OrderImportedMessage.model_validate_json(imported).model_dump_json().encode() == imported
    assert OrderUpdatedMessage.model_validate_json(updated).model_dump_json().encode() == updated


def test_an_order_updated_too_large_to_publish_is_quarantined_as_one() -> None:
    event = make_order_updated()

    stub = value_of(quarantine_record(encode_event(event), "too large", 16_384).value)

    assert (stub["event_type"], stub["event_id"]) == ("OrderUpdated", str(event.event_id))
