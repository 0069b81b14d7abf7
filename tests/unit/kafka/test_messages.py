"""The wire contract (README.md, Messages): names, money, times, headers, key, determinism."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.messages import (
    DeadLetterMessage,
    OrderImportedMessage,
    OrderStatusChangedMessage,
    encode_dead_letter,
    encode_event,
)
from domain.order import PickupPoint
from tests.support.builders import (
    make_buyer,
    make_dead_letter,
    make_invoice,
    make_line_item,
    make_order_imported,
    make_order_status_changed,
    pln,
)

REPO_ROOT = Path(__file__).resolve().parents[3]

ORDER_IMPORTED_FIELDS = [
    "event_id",
    "event_type",
    "occurred_at",
    "source",
    "account",
    "marketplace",
    "external_id",
    "revision",
    "customer_name",
    "customer_email",
    "customer_phone",
    "buyer",
    "shipping_address",
    "total_amount",
    "currency",
    "line_items",
    "order_status",
    "payment_status",
    "fulfillment_status",
    "invoice_requested",
    "invoice",
    "payment_method",
    "paid_at",
    "ordered_at",
    "delivery_method",
    "pickup_point",
    "delivery_cost",
    "notes",
    # added within v1 (contracts/COMPATIBILITY.md: new fields come after the old ones)
    "fulfillment_provider",
    "dispatch_by",
    "total_to_pay",
    "surcharges",
    "payment_id",
    "payment_provider",
    "buyer_id",
    "line_items_sent",
]
ORDER_STATUS_CHANGED_FIELDS = [
    "event_id",
    "event_type",
    "occurred_at",
    "account",
    "marketplace",
    "external_id",
    "revision",
    "previous_status",
    "order_status",
    "payment_status",
    "fulfillment_status",
    "previous_fulfillment_status",
    "reason",
]


def value_of(record_value: bytes) -> dict[str, Any]:
    return json.loads(record_value, parse_float=Decimal)  # type: ignore[no-any-return]


def test_order_imported_value_uses_exactly_the_spec_names_in_order() -> None:
    value = value_of(encode_event(make_order_imported()).value)

    assert list(value) == ORDER_IMPORTED_FIELDS


def test_order_imported_nested_objects_use_the_spec_names() -> None:
    value = value_of(encode_event(make_order_imported()).value)

    assert list(value["buyer"]) == ["login", "first_name", "last_name", "company_name", "guest"]
    assert list(value["shipping_address"]) == [
        "name",
        "company",
        "street",
        "city",
        "postal_code",
        "country_code",
        "phone",
    ]
    assert list(value["line_items"][0]) == [
        "external_line_id",
        "external_offer_id",
        "sku",
        "name",
        "quantity",
        "unit_price",
        "original_unit_price",
        "tax",
    ]
    assert list(value["invoice"]) == [
        "company_name",
        "tax_ids",
        "vat_payer_status",
        "natural_person",
        "address",
    ]
    assert value["invoice"]["tax_ids"] == [{"type": "PL_NIP", "value": "6762451198"}]
    assert list(value["invoice"]["address"]) == ["street", "city", "postal_code", "country_code"]
    assert list(value["delivery_method"]) == ["id", "name"]
    assert list(value["pickup_point"]) == ["id", "name", "description", "address"]


def test_order_imported_values_come_from_the_event() -> None:
    event = make_order_imported()

    value = value_of(encode_event(event).value)

    assert value["event_id"] == str(event.event_id)
    assert value["event_type"] == "OrderImported"
    assert value["source"] == "allegro"
    assert value["external_id"] == event.external_id
    assert value["customer_name"] == event.buyer.login
    assert value["order_status"] == "new"
    assert value["payment_status"] == "paid"
    assert value["buyer"]["first_name"] == "Aleksandra"
    assert value["line_items"][0]["external_offer_id"] == "17034458812"
    assert value["line_items"][0]["sku"] == "KON-10L-GR"
    assert value["line_items"][0]["quantity"] == 2
    assert value["pickup_point"]["address"]["city"] == "Kraków"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("70", "70"),
        ("70.00", "70.00"),
        ("0.10", "0.10"),
        ("1234567.891", "1234567.891"),
        ("1E+2", "100"),
        ("0.00000001", "0.00000001"),
    ],
)
def test_money_is_an_exact_decimal_string(amount: str, text: str) -> None:
    event = make_order_imported(
        total_amount=Decimal(amount),
        delivery_cost=Decimal(amount),
        line_items=(make_line_item(unit_price=pln(amount), original_unit_price=pln(amount)),),
    )

    value = value_of(encode_event(event).value)

    line = value["line_items"][0]
    assert value["total_amount"] == text
    assert value["delivery_cost"] == text
    assert line["unit_price"] == text
    assert line["original_unit_price"] == text


def test_optional_money_is_null() -> None:
    event = make_order_imported(
        delivery_cost=None, line_items=(make_line_item(original_unit_price=None),)
    )

    value = value_of(encode_event(event).value)

    assert value["delivery_cost"] is None
    assert value["line_items"][0]["original_unit_price"] is None


def test_no_number_in_the_value_is_a_float() -> None:
    raw = encode_event(make_order_imported()).value

    floats: list[Decimal] = []
    json.loads(raw, parse_float=lambda text: floats.append(Decimal(text)))

    assert floats == []
    assert b'"total_amount":"80.97"' in raw


def test_times_are_rfc3339_utc_with_z() -> None:
    warsaw = timezone(timedelta(hours=2))
    event = make_order_imported(
        occurred_at=datetime(2026, 3, 14, 11, 15, 21, tzinfo=warsaw),
        paid_at=datetime(2026, 3, 14, 9, 15, 20, 902000, tzinfo=UTC),
        ordered_at=None,
    )

    value = value_of(encode_event(event).value)

    assert value["occurred_at"] == "2026-03-14T09:15:21Z"
    assert value["paid_at"] == "2026-03-14T09:15:20.902000Z"
    assert value["ordered_at"] is None


def test_a_naive_time_is_refused() -> None:
    event = make_order_imported(occurred_at=datetime(2026, 3, 14, 9, 15, 21))

    with pytest.raises(ValueError, match="naive"):
        encode_event(event)


def test_order_imported_headers_are_cloudevents_binary_mode() -> None:
    event = make_order_imported(
        account="shop-2", occurred_at=datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    )

    record = encode_event(event)

    assert record.headers == [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(event.event_id).encode()),
        ("ce_source", b"allegro/shop-2"),
        ("ce_type", b"openoms.order.imported.v1"),
        ("ce_subject", event.external_id.encode()),
        ("ce_time", b"2026-03-14T09:00:00Z"),
        ("content-type", b"application/json"),
    ]


def test_the_key_is_the_checkout_form_id() -> None:
    event = make_order_imported(external_id="żółw-42")

    assert encode_event(event).key == "żółw-42".encode()


def test_non_ascii_text_is_plain_utf8() -> None:
    raw = encode_event(make_order_imported()).value

    assert "Wiśniewska".encode() in raw
    assert b"\\u" not in raw


def test_no_invoice_is_null() -> None:
    event = make_order_imported(invoice_requested=False, invoice=None)

    value = value_of(encode_event(event).value)

    assert value["invoice_requested"] is False
    assert value["invoice"] is None


def test_invoice_for_a_natural_person() -> None:
    invoice = make_invoice(
        company_name=None,
        tax_ids=(),
        natural_person_first_name="Jan",
        natural_person_last_name="Nowak",
        address=None,
    )

    value = value_of(encode_event(make_order_imported(invoice=invoice)).value)

    assert value["invoice"]["natural_person"] == {"first_name": "Jan", "last_name": "Nowak"}
    assert value["invoice"]["tax_ids"] == []
    assert value["invoice"]["address"] is None


def test_company_invoice_has_no_natural_person() -> None:
    value = value_of(encode_event(make_order_imported()).value)

    assert value["invoice"]["natural_person"] is None


def test_guest_buyer_without_delivery_details() -> None:
    event = make_order_imported(
        buyer=make_buyer(guest=True, first_name=None, last_name=None, company_name=None),
        shipping_address=None,
        delivery_method=None,
        pickup_point=None,
    )

    value = value_of(encode_event(event).value)

    assert value["buyer"] == {
        "login": "ola_w_ogrodzie",
        "first_name": None,
        "last_name": None,
        "company_name": None,
        "guest": True,
    }
    assert value["shipping_address"] is None
    assert value["delivery_method"] is None
    assert value["pickup_point"] is None


def test_order_status_changed_value_uses_exactly_the_spec_names() -> None:
    event = make_order_status_changed()

    value = value_of(encode_event(event).value)

    assert list(value) == ORDER_STATUS_CHANGED_FIELDS
    assert value["event_type"] == "OrderStatusChanged"
    assert value["previous_status"] == "new"
    assert value["order_status"] == "shipped"
    assert value["previous_fulfillment_status"] == "NEW"
    assert value["fulfillment_status"] == "SENT"
    assert value["reason"] == "FULFILLMENT_STATUS_CHANGED"


def test_order_status_changed_goes_with_its_own_ce_type_and_the_order_key() -> None:
    event = make_order_status_changed()

    record = encode_event(event)

    headers = dict(record.headers)
    assert headers["ce_type"] == b"openoms.order.status_changed.v1"
    assert headers["ce_id"] == str(event.event_id).encode()
    assert headers["ce_subject"] == event.external_id.encode()
    assert record.key == event.external_id.encode()


def test_dead_letter_carries_the_full_context() -> None:
    letter = make_dead_letter()

    record = encode_dead_letter(letter)

    assert record.key == letter.checkout_form_id.encode()
    assert json.loads(record.value) == {
        "account": "default",
        "checkout_form_id": letter.checkout_form_id,
        "allegro_event_id": "1773479698020318",
        "raw_payload": letter.raw_payload,
        "raw_payload_bytes": len(letter.raw_payload.encode()),
        "raw_payload_sha256": hashlib.sha256(letter.raw_payload.encode()).hexdigest(),
        "truncated": False,
        "error": letter.error,
        "attempts": 5,
        "failed_at": "2026-03-14T09:20:00Z",
        "event_id": None,
        "event_type": None,
    }
    headers = dict(record.headers)
    assert headers["ce_type"] == b"openoms.order.dead_lettered.v1"
    assert headers["ce_source"] == b"allegro/default"
    assert headers["ce_subject"] == letter.checkout_form_id.encode()
    assert headers["ce_time"] == b"2026-03-14T09:20:00Z"
    assert headers["content-type"] == b"application/json"


def test_dead_letter_id_names_the_input_not_the_attempt() -> None:
    def ce_id(**overrides: Any) -> bytes:
        return dict(encode_dead_letter(make_dead_letter(**overrides)).headers)["ce_id"]

    assert ce_id() == ce_id()
    # a quarantine re-sent after a crash counts one more attempt, later: still the same input
    assert ce_id() == ce_id(attempts=6, failed_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert ce_id() != ce_id(checkout_form_id="another")
    assert ce_id() != ce_id(raw_payload='{"another": "body"}')
    assert ce_id() != ce_id(allegro_event_id="1773479722481999")


def test_the_same_event_encodes_to_identical_bytes() -> None:
    first = encode_event(make_order_imported())
    second = encode_event(dataclasses.replace(make_order_imported()))

    assert first == second


def test_the_same_event_encodes_to_identical_bytes_in_a_fresh_process() -> None:
    program = (
        "import sys\n"
        "from adapters.kafka.messages import encode_event\n"
        "from tests.support.builders import make_order_imported\n"
        "sys.stdout.buffer.write(encode_event(make_order_imported()).value)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}

    child = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )

    assert child.stdout == encode_event(make_order_imported()).value


def test_values_parse_back_into_their_message_models() -> None:
    imported = encode_event(make_order_imported()).value
    changed = encode_event(make_order_status_changed()).value
    letter = encode_dead_letter(make_dead_letter()).value

    assert OrderImportedMessage.model_validate_json(imported).model_dump_json().encode() == imported
    assert (
        OrderStatusChangedMessage.model_validate_json(changed).model_dump_json().encode() == changed
    )
    assert DeadLetterMessage.model_validate_json(letter).model_dump_json().encode() == letter


def test_pickup_point_without_address() -> None:
    point = PickupPoint(id="KRA112M", name="Paczkomat KRA112M", description=None, address=None)

    value = value_of(encode_event(make_order_imported(pickup_point=point)).value)

    assert value["pickup_point"] == {
        "id": "KRA112M",
        "name": "Paczkomat KRA112M",
        "description": None,
        "address": None,
    }
