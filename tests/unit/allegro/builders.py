"""Allegro payload builders with overrides, shaped as docs/allegro-api.md (Checkout form)."""

from __future__ import annotations

import copy
from typing import Any

FORM_ID = "15d9e2a0-ea25-11f1-8f11-02fc00000001"

_FORM: dict[str, Any] = {
    "id": FORM_ID,
    "messageToSeller": "Proszę o zapakowanie na prezent.",
    "buyer": {
        "id": "5968875",
        "email": "k7qhd2mzpa+4c1e9b07@allegromail.pl",
        "login": "ola_w_ogrodzie",
        "firstName": "Aleksandra",
        "lastName": "Wiśniewska",
        "companyName": "Zielony Zakątek Sp. z o.o.",
        "guest": False,
        "personalIdentity": None,
        "phoneNumber": "+48601234567",
        "preferences": {"language": "pl-PL"},
        "address": {
            "street": "Ogrodowa 14/3",
            "city": "Kraków",
            "postCode": "30-001",
            "countryCode": "PL",
        },
    },
    "payment": {
        "id": "16a02f51-ea25-11f1-9c2e-02fc00000002",
        "type": "ONLINE",
        "provider": "P24",
        "finishedAt": "2026-03-14T09:15:20.902Z",
        "paidAmount": {"amount": "80.97", "currency": "PLN"},
        "reconciliation": None,
        "features": [],
    },
    "status": "READY_FOR_PROCESSING",
    "fulfillment": {
        "status": "NEW",
        "shipmentSummary": {"lineItemsSent": "NONE"},
        "provider": {"id": "SELLER"},
    },
    "delivery": {
        "address": {
            "firstName": "Aleksandra",
            "lastName": "Wiśniewska",
            "street": "Ogrodowa 14/3",
            "city": "Kraków",
            "zipCode": "30-001",
            "countryCode": "PL",
            "companyName": None,
            "phoneNumber": "+48601234567",
            "modifiedAt": None,
        },
        "method": {"id": "2488f7b7-5d1c-4d65-b85c-4cbcf253fd93", "name": "Allegro Paczkomaty"},
        "pickupPoint": {
            "id": "KRA112M",
            "name": "Paczkomat KRA112M",
            "description": "Przy sklepie spożywczym",
            "address": {
                "street": "Długa 40",
                "zipCode": "31-147",
                "city": "Kraków",
                "countryCode": "PL",
            },
        },
        "cost": {"amount": "8.99", "currency": "PLN"},
        "time": {"from": "2026-03-16T07:00:00Z", "to": "2026-03-17T20:00:00Z", "guaranteed": None},
        "smart": False,
        "cancellation": None,
        "calculatedNumberOfPackages": 1,
    },
    "invoice": {
        "required": True,
        "address": {
            "street": "Ogrodowa 14/3",
            "city": "Kraków",
            "zipCode": "30-001",
            "countryCode": "PL",
            "company": {
                "name": "Zielony Zakątek Sp. z o.o.",
                "ids": [{"type": "PL_NIP", "value": "6762451198"}],
                "vatPayerStatus": "ACTIVE",
                "taxId": "6762451198",
            },
            "naturalPerson": None,
        },
        "dueDate": None,
        "features": [],
    },
    "lineItems": [
        {
            "id": "15da6138-ea25-11f1-8f11-02fc00000001",
            "offer": {
                "id": "17034458812",
                "name": "Konewka ogrodowa 10 l zielona z sitkiem",
                "external": {"id": "KON-10L-GR"},
                "productSet": None,
            },
            "quantity": 2,
            "originalPrice": {"amount": "39.99", "currency": "PLN"},
            "price": {"amount": "35.99", "currency": "PLN"},
            "reconciliation": None,
            "selectedAdditionalServices": [],
            "vouchers": [],
            "tax": {"rate": "23.00", "subject": "GOODS", "exemption": None},
            "boughtAt": "2026-03-14T09:12:40.118Z",
            "discounts": [{"type": "UNIT_PERCENTAGE_DISCOUNT"}],
        }
    ],
    "surcharges": [],
    "note": None,
    "marketplace": {"id": "allegro-pl"},
    "summary": {"totalToPay": {"amount": "80.97", "currency": "PLN"}},
    "updatedAt": "2026-03-14T09:15:21.330Z",
    "revision": "3fa1c09e",
}


def make_checkout_form(**overrides: Any) -> dict[str, Any]:
    """A full checkout form; top-level keys (camelCase, as on the wire) may be overridden,
    and an override of `None` means an explicit JSON null."""
    form = copy.deepcopy(_FORM)
    form.update(copy.deepcopy(overrides))
    return form


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """A copy without the given top-level keys (missing rather than null)."""
    return {k: v for k, v in data.items() if k not in keys}


def make_event(
    event_id: str = "1773482525113317",
    event_type: str = "READY_FOR_PROCESSING",
    form_id: str | None = FORM_ID,
    revision: str | None = "7c20d5b1",
) -> dict[str, Any]:
    order: dict[str, Any] = {
        "seller": {"id": "44294360"},
        "buyer": {"id": "1", "email": "x@allegromail.pl", "login": "x", "guest": False},
        "lineItems": [],
        "marketplace": {"id": "allegro-pl"},
    }
    if form_id is not None:
        order["checkoutForm"] = {"id": form_id, "revision": revision}
    return {
        "id": event_id,
        "type": event_type,
        "occurredAt": "2026-03-14T10:02:05.113Z",
        "order": order,
    }
