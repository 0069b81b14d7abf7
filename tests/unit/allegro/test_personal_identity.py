"""`buyer.personalIdentity` (a national id number) never reaches anything published: not
the order read from the form, not the bytes of an `OrderImported` or `OrderUpdated`
(README.md, Messages)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from adapters.allegro.translate import read_checkout_form
from adapters.kafka.messages import KafkaRecord, encode_event
from domain.events import OrderImported, OrderUpdated
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy, Revelation

from .builders import make_checkout_form

# Shaped like a PESEL (11 digits) and found nowhere else in the form.
PERSONAL_IDENTITY = "83061507394"
REVELATION = Revelation("READY_FOR_PROCESSING", datetime(2026, 3, 14, 9, 16, tzinfo=UTC), True)


def read(form: dict[str, Any]) -> OrderSnapshot:
    order = read_checkout_form(json.dumps(form))
    assert isinstance(order, OrderSnapshot), order
    return order


def every_byte(record: KafkaRecord) -> bytes:
    return b"\n".join([record.key, record.value, *(value for _, value in record.headers)])


def test_a_buyers_personal_identity_is_never_published() -> None:
    form = make_checkout_form()
    form["buyer"]["personalIdentity"] = PERSONAL_IDENTITY
    assert PERSONAL_IDENTITY not in json.dumps(make_checkout_form())  # no other source of it
    policy = ImportPolicy(account="default")

    order = read(form)
    imported = policy.decide(order, None, REVELATION)
    form["delivery"]["address"]["street"] = "Ogrodowa 16/1"  # the buyer moves: an update
    form["revision"] = "4b7e21d0"
    updated = policy.decide(read(form), imported.record, REVELATION)

    events = [*imported.events, *updated.events]
    assert [type(event) for event in events] == [OrderImported, OrderUpdated]
    assert PERSONAL_IDENTITY not in repr(order)
    for event in events:
        published = every_byte(encode_event(event))
        assert b"ola_w_ogrodzie" in published  # the buyer's other data is there to be seen
        assert PERSONAL_IDENTITY.encode() not in published
