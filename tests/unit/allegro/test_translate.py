"""Wire -> domain translation rules: nulls, missing keys, unknown enums, odd amounts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.allegro.translate import (
    read_checkout_form,
    read_checkout_form_item,
    read_checkout_form_items,
)
from adapters.allegro.wire import CHECKOUT_FORMS_PAGE
from application.ports.allegro import UnreadableCheckoutForm
from domain.money import Money
from domain.order import OrderSnapshot, PostalAddress, ShippingAddress, TaxId

from .builders import FORM_ID, make_checkout_form, without

# Checkout form ids are UUIDs: any other shape is refused at the wire (see identifiers.py).
BROKEN_ID = "0f0f0f0f-0000-11f1-8000-000000000001"
GOOD_ID = "0f0f0f0f-0000-11f1-8000-000000000002"
BAD_AMOUNT_ID = "0f0f0f0f-0000-11f1-8000-000000000003"
ID_A, ID_B, ID_C = (f"0f0f0f0f-0000-11f1-8000-00000000000{n}" for n in "abc")


def snapshot(form: dict[str, Any]) -> OrderSnapshot:
    result = read_checkout_form(json.dumps(form))
    assert isinstance(result, OrderSnapshot), result
    return result


def unreadable(form: Any) -> UnreadableCheckoutForm:
    result = read_checkout_form(form if isinstance(form, str) else json.dumps(form))
    assert isinstance(result, UnreadableCheckoutForm), result
    return result


def test_full_form_maps_every_field() -> None:
    order = snapshot(make_checkout_form())

    assert order.id == FORM_ID
    assert order.revision == "3fa1c09e"
    assert order.status == "READY_FOR_PROCESSING"
    assert order.fulfillment_status == "NEW"
    assert order.marketplace == "allegro-pl"
    assert order.message_to_seller == "Proszę o zapakowanie na prezent."
    assert order.updated_at == datetime(2026, 3, 14, 9, 15, 21, 330000, tzinfo=UTC)
    assert order.total_to_pay == Money(Decimal("80.97"), "PLN")


def test_buyer() -> None:
    buyer = snapshot(make_checkout_form()).buyer

    assert buyer.id == "5968875"
    assert buyer.login == "ola_w_ogrodzie"
    assert buyer.email == "k7qhd2mzpa+4c1e9b07@allegromail.pl"
    assert buyer.guest is False
    assert (buyer.first_name, buyer.last_name) == ("Aleksandra", "Wiśniewska")
    assert buyer.company_name == "Zielony Zakątek Sp. z o.o."
    assert buyer.phone == "+48601234567"


def test_payment() -> None:
    payment = snapshot(make_checkout_form()).payment

    assert payment is not None
    assert payment.id == "16a02f51-ea25-11f1-9c2e-02fc00000002"
    assert (payment.type, payment.provider) == ("ONLINE", "P24")
    assert payment.finished_at == datetime(2026, 3, 14, 9, 15, 20, 902000, tzinfo=UTC)
    assert payment.paid_amount == Money(Decimal("80.97"), "PLN")


def test_delivery_address_is_flattened_with_the_domain_names() -> None:
    delivery = snapshot(make_checkout_form()).delivery

    assert delivery is not None
    assert delivery.address == ShippingAddress(
        name="Aleksandra Wiśniewska",
        company=None,
        street="Ogrodowa 14/3",
        city="Kraków",
        postal_code="30-001",
        country_code="PL",
        phone="+48601234567",
    )
    assert delivery.method is not None
    assert delivery.method.id == "2488f7b7-5d1c-4d65-b85c-4cbcf253fd93"
    assert delivery.method.name == "Allegro Paczkomaty"
    assert delivery.cost == Money(Decimal("8.99"), "PLN")


def test_delivery_company_name_and_a_single_name_part() -> None:
    form = make_checkout_form()
    form["delivery"]["address"].update(firstName=None, companyName="Firma")
    address = snapshot(form).delivery.address  # type: ignore[union-attr]

    assert address is not None
    assert (address.name, address.company) == ("Wiśniewska", "Firma")


def test_pickup_point() -> None:
    point = snapshot(make_checkout_form()).delivery.pickup_point  # type: ignore[union-attr]

    assert point is not None
    assert (point.id, point.name, point.description) == (
        "KRA112M",
        "Paczkomat KRA112M",
        "Przy sklepie spożywczym",
    )
    assert point.address == PostalAddress("Długa 40", "Kraków", "31-147", "PL")


def test_invoice_company() -> None:
    invoice = snapshot(make_checkout_form()).invoice

    assert invoice is not None
    assert invoice.required is True
    assert invoice.company_name == "Zielony Zakątek Sp. z o.o."
    assert invoice.tax_ids == (TaxId("PL_NIP", "6762451198"),)
    assert invoice.vat_payer_status == "ACTIVE"
    assert invoice.address == PostalAddress("Ogrodowa 14/3", "Kraków", "30-001", "PL")
    assert invoice.natural_person_first_name is None


def test_invoice_natural_person() -> None:
    form = make_checkout_form()
    form["invoice"]["address"].update(
        company=None, naturalPerson={"firstName": "Jan", "lastName": "Nowak"}
    )
    invoice = snapshot(form).invoice

    assert invoice is not None
    assert invoice.company_name is None
    assert invoice.tax_ids == ()
    assert (invoice.natural_person_first_name, invoice.natural_person_last_name) == (
        "Jan",
        "Nowak",
    )


def test_invoice_falls_back_to_the_deprecated_tax_id_when_ids_are_absent() -> None:
    form = make_checkout_form()
    form["invoice"]["address"]["company"]["ids"] = None
    invoice = snapshot(form).invoice

    assert invoice is not None
    assert invoice.tax_ids == (TaxId("OTHER", "6762451198"),)


def test_invoice_not_required_with_null_address() -> None:
    form = make_checkout_form(invoice={"required": False, "address": None, "dueDate": None})
    invoice = snapshot(form).invoice

    assert invoice is not None
    assert invoice.required is False
    assert invoice.address is None
    assert invoice.company_name is None


def test_line_item() -> None:
    (item,) = snapshot(make_checkout_form()).line_items

    assert item.id == "15da6138-ea25-11f1-8f11-02fc00000001"
    assert item.offer_id == "17034458812"
    assert item.offer_name == "Konewka ogrodowa 10 l zielona z sitkiem"
    assert item.sku == "KON-10L-GR"
    assert item.quantity == 2
    assert item.unit_price == Money(Decimal("35.99"), "PLN")
    assert item.original_unit_price == Money(Decimal("39.99"), "PLN")
    assert item.bought_at == datetime(2026, 3, 14, 9, 12, 40, 118000, tzinfo=UTC)


@pytest.mark.parametrize("external", [None, {"id": None}, "missing"])
def test_line_item_without_external_id_has_no_sku(external: Any) -> None:
    form = make_checkout_form()
    offer = form["lineItems"][0]["offer"]
    if external == "missing":
        del offer["external"]
    else:
        offer["external"] = external

    assert snapshot(form).line_items[0].sku is None


@pytest.mark.parametrize("amount", ["70", "70.0", "0.5", "1234567.891"])
def test_amounts_are_decimal_strings_of_any_scale(amount: str) -> None:
    form = make_checkout_form(summary={"totalToPay": {"amount": amount, "currency": "CZK"}})

    assert snapshot(form).total_to_pay == Money(Decimal(amount), "CZK")


def test_seventy_keeps_its_exact_decimal_value() -> None:
    form = make_checkout_form(summary={"totalToPay": {"amount": "70", "currency": "PLN"}})

    assert str(snapshot(form).total_to_pay.amount) == "70"


def test_datetimes_without_millis_and_without_offset_are_utc() -> None:
    form = make_checkout_form(updatedAt="2018-01-07T16:00:00Z")
    form["lineItems"][0]["boughtAt"] = "2018-01-07T16:00:00"

    order = snapshot(form)

    assert order.updated_at == datetime(2018, 1, 7, 16, 0, tzinfo=UTC)
    assert order.line_items[0].bought_at == datetime(2018, 1, 7, 16, 0, tzinfo=UTC)


def test_datetimes_are_normalised_to_utc() -> None:
    form = make_checkout_form(updatedAt="2026-03-14T10:15:21.330+01:00")

    updated_at = snapshot(form).updated_at

    assert updated_at == datetime(2026, 3, 14, 9, 15, 21, 330000, tzinfo=UTC)
    assert updated_at is not None
    assert updated_at.tzinfo is UTC


def test_unknown_enum_values_are_kept_as_strings() -> None:
    form = make_checkout_form(status="SOMETHING_NEW", fulfillment={"status": "TELEPORTED"})
    form["payment"]["type"] = "CRYPTO"
    form["payment"]["provider"] = "NEWPAY"

    order = snapshot(form)

    assert (order.status, order.fulfillment_status) == ("SOMETHING_NEW", "TELEPORTED")
    assert order.payment is not None
    assert (order.payment.type, order.payment.provider) == ("CRYPTO", "NEWPAY")


OPTIONAL_TOP_LEVEL = [
    "messageToSeller",
    "payment",
    "fulfillment",
    "delivery",
    "invoice",
    "marketplace",
    "updatedAt",
    "revision",
    "surcharges",
    "note",
]


@pytest.mark.parametrize("key", OPTIONAL_TOP_LEVEL)
def test_optional_top_level_fields_may_be_null(key: str) -> None:
    order = snapshot(make_checkout_form(**{key: None}))

    assert order.id == FORM_ID


@pytest.mark.parametrize("key", OPTIONAL_TOP_LEVEL)
def test_optional_top_level_fields_may_be_missing(key: str) -> None:
    order = snapshot(without(make_checkout_form(), key))

    assert order.id == FORM_ID


def test_absent_parts_become_none() -> None:
    keys = ("payment", "delivery", "invoice", "fulfillment", "marketplace", "messageToSeller")
    order = snapshot(make_checkout_form(**dict.fromkeys(keys)))

    assert (order.payment, order.delivery, order.invoice) == (None, None, None)
    assert (order.fulfillment_status, order.marketplace, order.message_to_seller) == (
        None,
        None,
        None,
    )


def test_cash_on_delivery_payment_with_nulls() -> None:
    form = make_checkout_form()
    form["payment"].update(type="CASH_ON_DELIVERY", provider=None, paidAmount=None)

    order = snapshot(form)

    assert order.is_cash_on_delivery
    assert order.payment is not None
    assert order.payment.paid_amount is None


NESTED_OPTIONALS = [
    ("buyer", "firstName"),
    ("buyer", "lastName"),
    ("buyer", "companyName"),
    ("buyer", "phoneNumber"),
    ("buyer", "guest"),
    ("payment", "id"),
    ("payment", "provider"),
    ("payment", "finishedAt"),
    ("payment", "paidAmount"),
    ("delivery", "address"),
    ("delivery", "method"),
    ("delivery", "pickupPoint"),
    ("delivery", "cost"),
    ("invoice", "required"),
    ("invoice", "address"),
    ("fulfillment", "status"),
    ("marketplace", "id"),
]


@pytest.mark.parametrize(("parent", "key"), NESTED_OPTIONALS)
@pytest.mark.parametrize("how", ["null", "missing"])
def test_nested_optional_fields_tolerate_null_and_missing(parent: str, key: str, how: str) -> None:
    form = make_checkout_form()
    if how == "null":
        form[parent][key] = None
    else:
        del form[parent][key]

    assert snapshot(form).id == FORM_ID


@pytest.mark.parametrize(
    "key", ["price", "originalPrice", "boughtAt", "offer", "quantity", "tax", "discounts"]
)
def test_line_item_fields(key: str) -> None:
    form = make_checkout_form()
    del form["lineItems"][0][key]
    result = read_checkout_form(json.dumps(form))

    required = key in ("price", "offer", "quantity")
    assert isinstance(result, UnreadableCheckoutForm) is required


def test_a_missing_required_field_is_unreadable_with_the_id_and_raw_body() -> None:
    form = without(make_checkout_form(), "summary")

    result = unreadable(form)

    assert result.checkout_form_id == FORM_ID
    assert json.loads(result.raw) == form
    assert "summary" in result.reason


def test_an_invalid_amount_is_unreadable_not_a_crash() -> None:
    form = make_checkout_form(summary={"totalToPay": {"amount": "a lot", "currency": "PLN"}})

    assert "not a decimal" in unreadable(form).reason


def test_a_bad_currency_is_unreadable() -> None:
    form = make_checkout_form(summary={"totalToPay": {"amount": "1.00", "currency": "złoty"}})

    assert "currency" in unreadable(form).reason


def test_a_negative_quantity_is_unreadable() -> None:
    form = make_checkout_form()
    form["lineItems"][0]["quantity"] = -1

    assert "quantity" in unreadable(form).reason


def test_a_body_that_is_not_json_is_unreadable() -> None:
    result = unreadable("<html>oops</html>")

    assert result.checkout_form_id is None
    assert result.raw == "<html>oops</html>"
    assert "not JSON" in result.reason


def test_reasons_do_not_echo_buyer_data() -> None:
    form = make_checkout_form()
    form["buyer"]["guest"] = "Aleksandra Wiśniewska"

    result = unreadable(form)

    assert "buyer.guest" in result.reason
    assert "Aleksandra" not in result.reason


def test_list_items_are_read_one_by_one() -> None:
    good = read_checkout_form_item(make_checkout_form())
    bad = read_checkout_form_item({"id": BROKEN_ID})
    not_an_object = read_checkout_form_item(["what"])

    assert isinstance(good, OrderSnapshot)
    assert isinstance(bad, UnreadableCheckoutForm)
    assert bad.checkout_form_id == BROKEN_ID
    assert json.loads(bad.raw) == {"id": BROKEN_ID}
    assert isinstance(not_an_object, UnreadableCheckoutForm)
    assert not_an_object.checkout_form_id is None


def test_unknown_fields_are_ignored() -> None:
    form = make_checkout_form(codBookedPayments=[{"paymentId": "p", "shipmentId": "s"}])
    form["buyer"]["somethingNew"] = {"deep": [1, 2]}

    assert snapshot(form).id == FORM_ID


def test_a_list_page_is_read_item_by_item_and_failures_keep_the_text_allegro_sent() -> None:
    good = make_checkout_form(id=GOOD_ID)
    bad_amount = make_checkout_form(
        id=BAD_AMOUNT_ID,
        summary={"totalToPay": {"amount": "a lot", "currency": "PLN"}},
        somethingNew={"kept": True},
    )
    items = [good, {"id": BROKEN_ID}, bad_amount, ["what"]]
    body = json.dumps({"checkoutForms": items, "totalCount": 4}).encode()
    decodes: list[int] = []

    def decoded() -> list[Any]:
        decodes.append(1)
        return list(json.loads(body)["checkoutForms"])

    page = CHECKOUT_FORMS_PAGE.validate_json(body)
    results = read_checkout_form_items(page, decoded)

    assert isinstance(results[0], OrderSnapshot)
    assert results[0].id == GOOD_ID
    broken, amount, not_an_object = results[1:]
    assert isinstance(broken, UnreadableCheckoutForm)
    assert json.loads(broken.raw) == {"id": BROKEN_ID}
    assert isinstance(amount, UnreadableCheckoutForm)
    assert amount.checkout_form_id == BAD_AMOUNT_ID
    assert "not a decimal" in amount.reason
    assert json.loads(amount.raw) == bad_amount  # with the key this service does not read
    assert isinstance(not_an_object, UnreadableCheckoutForm)
    assert not_an_object.checkout_form_id is None
    assert decodes  # the page was decoded again only because of the item that broke a rule


def test_a_list_page_of_good_forms_is_never_decoded_twice() -> None:
    body = json.dumps({"checkoutForms": [make_checkout_form()], "totalCount": 1}).encode()

    def decoded() -> list[Any]:
        raise AssertionError("decoded again")

    results = read_checkout_form_items(CHECKOUT_FORMS_PAGE.validate_json(body), decoded)

    assert [type(r) for r in results] == [OrderSnapshot]


def test_a_body_given_as_bytes_reads_like_text() -> None:
    form = make_checkout_form()

    from_bytes = read_checkout_form(json.dumps(form).encode())
    broken = read_checkout_form(b"\xff<html>")

    assert from_bytes == snapshot(form)
    assert isinstance(broken, UnreadableCheckoutForm)
    assert "not JSON" in broken.reason


def test_a_list_page_can_leave_out_the_forms_nobody_asked_for() -> None:
    items = [make_checkout_form(id=ID_A), make_checkout_form(id=ID_B), {"id": ID_C}, ["no id"]]
    body = json.dumps({"checkoutForms": items, "totalCount": 4}).encode()
    page = CHECKOUT_FORMS_PAGE.validate_json(body)

    results = read_checkout_form_items(page, lambda: items, only_ids={ID_B, ID_C})

    assert [r.id if isinstance(r, OrderSnapshot) else r.checkout_form_id for r in results] == [
        ID_B,
        ID_C,
        None,  # an item without an id might be any of them: it stays
    ]
