"""The checkout form's parts read for the fields added to the order messages (issue 14):
`fulfillment.provider.id`, `fulfillment.shipmentSummary.lineItemsSent`, `surcharges[]`,
`lineItems[].tax`, `delivery.time.dispatch` (docs/allegro-api.md, Checkout form), and what
hostile values of them do (docs/hostile-input.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.allegro.translate import read_checkout_form
from application.ports.allegro import UnreadableCheckoutForm
from domain.money import Money
from domain.order import LineItemTax, OrderSnapshot, Payment, TimeWindow

from .builders import FORM_ID, make_checkout_form

SURCHARGE_ID = "7e2b9c14-ea31-11f1-9d3a-02fc00000009"


def snapshot(form: dict[str, Any]) -> OrderSnapshot:
    result = read_checkout_form(json.dumps(form))
    assert isinstance(result, OrderSnapshot), result
    return result


def unreadable(form: dict[str, Any]) -> UnreadableCheckoutForm:
    result = read_checkout_form(json.dumps(form))
    assert isinstance(result, UnreadableCheckoutForm), result
    return result


def surcharge(**overrides: Any) -> dict[str, Any]:
    return {
        "id": SURCHARGE_ID,
        "type": "ONLINE",
        "provider": "PAYU",
        "finishedAt": "2026-03-14T18:02:03.450Z",
        "paidAmount": {"amount": "12.50", "currency": "PLN"},
        "reconciliation": None,
        "features": [],
        **overrides,
    }


def with_dispatch(window: Any) -> dict[str, Any]:
    form = make_checkout_form()
    form["delivery"]["time"]["dispatch"] = window
    return form


def test_a_one_fulfillment_order_names_allegro_as_its_provider() -> None:
    form = make_checkout_form(
        fulfillment={
            "status": "SENT",
            "shipmentSummary": {"lineItemsSent": "ALL"},
            "provider": {"id": "ALLEGRO"},
        }
    )

    order = snapshot(form)

    assert (order.fulfillment_provider, order.line_items_sent) == ("ALLEGRO", "ALL")


def test_a_sellers_order_with_some_lines_sent() -> None:
    form = make_checkout_form()
    form["fulfillment"]["shipmentSummary"]["lineItemsSent"] = "SOME"

    order = snapshot(form)

    assert (order.fulfillment_provider, order.line_items_sent) == ("SELLER", "SOME")


def test_surcharges_are_payments_of_their_own() -> None:
    pending = surcharge(
        id="7e2b9c14-ea31-11f1-9d3a-02fc0000000a",
        type="EXTENDED_TERM",
        provider="EPT",
        finishedAt=None,
        paidAmount=None,
    )
    order = snapshot(make_checkout_form(surcharges=[surcharge(), pending]))

    assert order.surcharges == (
        Payment(
            id=SURCHARGE_ID,
            type="ONLINE",
            provider="PAYU",
            finished_at=datetime(2026, 3, 14, 18, 2, 3, 450000, tzinfo=UTC),
            paid_amount=Money(Decimal("12.50"), "PLN"),
        ),
        Payment(
            id="7e2b9c14-ea31-11f1-9d3a-02fc0000000a",
            type="EXTENDED_TERM",
            provider="EPT",
            finished_at=None,
            paid_amount=None,
        ),
    )
    # the order's own payment is untouched: a surcharge is not the first payment
    assert order.payment is not None
    assert order.payment.paid_amount == Money(Decimal("80.97"), "PLN")


def test_a_line_items_tax_is_read_as_sent() -> None:
    form = make_checkout_form()
    form["lineItems"][0]["tax"] = {"rate": "8.00", "subject": "SERVICES", "exemption": "ZW"}

    item = snapshot(form).line_items[0]

    assert item.tax == LineItemTax(rate="8.00", subject="SERVICES", exemption="ZW")


def test_a_tax_rate_sent_as_a_number_is_its_text() -> None:
    form = make_checkout_form()
    form["lineItems"][0]["tax"] = {"rate": 23, "subject": "GOODS", "exemption": None}

    item = snapshot(form).line_items[0]

    assert item.tax == LineItemTax(rate="23", subject="GOODS", exemption=None)


def test_the_dispatch_window_is_read_in_utc() -> None:
    form = with_dispatch({"from": "2026-03-14T10:00:00+01:00", "to": "2026-03-15T22:59:59Z"})

    delivery = snapshot(form).delivery

    assert delivery is not None
    assert delivery.dispatch == TimeWindow(
        start=datetime(2026, 3, 14, 9, 0, tzinfo=UTC),
        end=datetime(2026, 3, 15, 22, 59, 59, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f["fulfillment"].update(provider=None), (None, "NONE")),
        (lambda f: f["fulfillment"].pop("provider"), (None, "NONE")),
        (lambda f: f["fulfillment"]["provider"].update(id=None), (None, "NONE")),
        (lambda f: f["fulfillment"].update(shipmentSummary=None), ("SELLER", None)),
        (lambda f: f["fulfillment"].pop("shipmentSummary"), ("SELLER", None)),
        (lambda f: f["fulfillment"]["shipmentSummary"].pop("lineItemsSent"), ("SELLER", None)),
    ],
    ids=[
        "null provider",
        "missing provider",
        "null provider id",
        "null summary",
        "missing summary",
        "missing lineItemsSent",
    ],
)
def test_an_absent_provider_or_shipment_summary_is_none(change: Any, expected: Any) -> None:
    form = make_checkout_form()
    change(form)

    order = snapshot(form)

    assert (order.fulfillment_provider, order.line_items_sent) == expected


def added_parts(order: OrderSnapshot) -> dict[str, Any]:
    delivery = order.delivery
    return {
        "provider": order.fulfillment_provider,
        "sent": order.line_items_sent,
        "surcharges": order.surcharges,
        "tax": order.line_items[0].tax,
        "dispatch": delivery.dispatch if delivery else None,
    }


# What `make_checkout_form()` holds (it has no dispatch window).
FORM_PARTS: dict[str, Any] = {
    "provider": "SELLER",
    "sent": "NONE",
    "surcharges": (),
    "tax": LineItemTax(rate="23.00", subject="GOODS", exemption=None),
    "dispatch": None,
}


def _set(path: tuple[str | int, ...], value: Any) -> Any:
    def change(form: dict[str, Any]) -> None:
        node: Any = form
        for key in path[:-1]:
            node = node[key]
        if value is _MISSING:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return change


_MISSING = object()


@pytest.mark.parametrize(
    ("change", "absent"),
    [
        (_set(("fulfillment",), None), {"provider": None, "sent": None}),
        (_set(("surcharges",), None), {}),
        (_set(("surcharges",), []), {}),
        (_set(("surcharges",), _MISSING), {}),
        (_set(("lineItems", 0, "tax"), None), {"tax": None}),
        (_set(("lineItems", 0, "tax"), _MISSING), {"tax": None}),
        (_set(("lineItems", 0, "tax"), {}), {"tax": None}),
        (_set(("delivery", "time"), None), {}),
        (_set(("delivery", "time"), _MISSING), {}),
        (_set(("delivery", "time", "dispatch"), None), {}),
        (_set(("delivery", "time", "dispatch"), {}), {}),
    ],
    ids=[
        "null fulfillment",
        "null surcharges",
        "no surcharges",
        "missing surcharges",
        "null tax",
        "missing tax",
        "empty tax",
        "null delivery time",
        "missing delivery time",
        "null dispatch",
        "empty dispatch",
    ],
)
def test_an_absent_part_is_none_and_the_others_are_still_read(
    change: Any, absent: dict[str, Any]
) -> None:
    form = make_checkout_form()
    change(form)

    assert added_parts(snapshot(form)) == FORM_PARTS | absent


@pytest.mark.parametrize("key", ["rate", "subject", "exemption"])
@pytest.mark.parametrize("how", ["null", "missing"])
def test_each_part_of_a_tax_may_be_absent(key: str, how: str) -> None:
    form = make_checkout_form()
    tax = form["lineItems"][0]["tax"]
    if how == "null":
        tax[key] = None
    else:
        del tax[key]

    read = snapshot(form).line_items[0].tax

    assert read is not None
    assert getattr(read, key) is None


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (
            {"from": None, "to": "2026-03-15T22:59:59Z"},
            TimeWindow(start=None, end=datetime(2026, 3, 15, 22, 59, 59, tzinfo=UTC)),
        ),
        (
            {"from": "2026-03-14T10:00:00Z"},
            TimeWindow(start=datetime(2026, 3, 14, 10, 0, tzinfo=UTC), end=None),
        ),
    ],
    ids=["no start", "no end"],
)
def test_a_dispatch_window_may_lack_either_end(window: Any, expected: TimeWindow) -> None:
    delivery = snapshot(with_dispatch(window)).delivery

    assert delivery is not None
    assert delivery.dispatch == expected


def test_values_allegro_may_add_are_kept_when_of_its_shape() -> None:
    form = make_checkout_form(
        fulfillment={
            "status": "NEW",
            "shipmentSummary": {"lineItemsSent": "MOST_OF_THEM"},
            "provider": {"id": "PARTNER_WAREHOUSE_2"},
        },
        surcharges=[surcharge(type="BLIK_LATER", provider="NEWPAY")],
    )
    form["lineItems"][0]["tax"]["subject"] = "ELECTRONIC_SERVICES"

    order = snapshot(form)

    assert (order.fulfillment_provider, order.line_items_sent) == (
        "PARTNER_WAREHOUSE_2",
        "MOST_OF_THEM",
    )
    assert (order.surcharges[0].type, order.surcharges[0].provider) == ("BLIK_LATER", "NEWPAY")
    assert order.line_items[0].tax is not None
    assert order.line_items[0].tax.subject == "ELECTRONIC_SERVICES"


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("provider", lambda f: f["fulfillment"]["provider"].update(id="seller")),
        ("provider", lambda f: f["fulfillment"]["provider"].update(id="SELLER\x00")),
        ("provider", lambda f: f["fulfillment"]["provider"].update(id="A" * 65)),
        (
            "line items sent",
            lambda f: f["fulfillment"]["shipmentSummary"].update(lineItemsSent="../"),
        ),
        (
            "line items sent",
            lambda f: f["fulfillment"]["shipmentSummary"].update(lineItemsSent="X" * 10_000),
        ),
        ("tax subject", lambda f: f["lineItems"][0]["tax"].update(subject="GOODS; DROP")),
    ],
)
def test_an_enumeration_of_another_shape_is_unreadable(where: str, change: Any) -> None:
    form = make_checkout_form()
    change(form)

    result = unreadable(form)

    assert result.checkout_form_id == FORM_ID
    assert f"{where} is not of Allegro's shape" in result.reason
    assert len(result.reason) < 200  # the refused value is described, never echoed whole


@pytest.mark.parametrize(
    "bad",
    [
        surcharge(paidAmount={"amount": "1E+100000000", "currency": "PLN"}),
        surcharge(paidAmount={"amount": "-12.50", "currency": "PLN"}),
        surcharge(paidAmount={"amount": "12.50", "currency": "złote"}),
        surcharge(finishedAt="yesterday"),
        "not a payment",
    ],
    ids=["absurd amount", "negative amount", "bad currency", "bad time", "not an object"],
)
def test_a_surcharge_that_is_not_a_payment_makes_the_form_unreadable(bad: Any) -> None:
    result = unreadable(make_checkout_form(surcharges=[surcharge(), bad]))

    assert result.checkout_form_id == FORM_ID


@pytest.mark.parametrize("bad", ["next week", "2026-02-30T10:00:00Z", 10**30])
def test_a_dispatch_time_that_is_not_one_makes_the_form_unreadable(bad: Any) -> None:
    result = unreadable(with_dispatch({"from": "2026-03-14T10:00:00Z", "to": bad}))

    assert result.checkout_form_id == FORM_ID
