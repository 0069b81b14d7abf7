"""Fuzzing the wire layer: whatever bytes come back, decoding yields a snapshot (of
Allegro's shapes) or the malformed / poison outcome, never another exception.

Bounded: a few hundred examples per property, no example database, a few seconds in all.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.allegro import MalformedResponse
from adapters.allegro.translate import read_checkout_form
from application.ports.allegro import CheckoutFormQuery, UnreadableCheckoutForm
from application.ports.errors import MalformedBody, MalformedCheckoutForm
from domain.money import MAX_AMOUNT
from domain.order import OrderSnapshot

from .builders import FORM_ID, make_checkout_form, make_event
from .fakes import make_harness

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")

# Values a hostile or broken Allegro might put anywhere in a form.
HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        ["", ".", "..", "\x00", "1E+100000000", "-0.01", "NaN", "ready", "a/b", "9" * 5000]
    ),
)
HOSTILE_VALUES = st.recursive(
    HOSTILE_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a decoded JSON document."""
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copied = copy.deepcopy(document)
    target = copied
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copied


FORM = make_checkout_form()
FORM_PATHS = paths(FORM)


@st.composite
def mutated_forms(draw: st.DrawFn) -> bytes:
    form: Any = FORM
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        form_paths = paths(form) if isinstance(form, dict | list) else [()]
        form = replaced(form, draw(st.sampled_from(form_paths)), draw(HOSTILE_VALUES))
    text = json.dumps(form).encode()
    if draw(st.booleans()):  # and sometimes broken as text too
        cut = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:cut] + draw(st.binary(max_size=8)) + text[cut:]
    return text


def assert_of_allegros_shape(result: OrderSnapshot | UnreadableCheckoutForm) -> None:
    if isinstance(result, UnreadableCheckoutForm):
        assert isinstance(result.reason, str)
        assert result.reason
        return
    assert UUID.fullmatch(result.id)
    assert all(UUID.fullmatch(item.id) for item in result.line_items)
    amounts = [result.total_to_pay, *(item.unit_price for item in result.line_items)]
    assert all(Decimal(0) <= money.amount < MAX_AMOUNT for money in amounts)


@FUZZ
@given(body=st.binary(max_size=2048))
def test_arbitrary_bytes_are_a_form_or_unreadable(body: bytes) -> None:
    assert_of_allegros_shape(read_checkout_form(body))


@FUZZ
@given(body=mutated_forms())
def test_mutated_real_forms_are_a_form_or_unreadable(body: bytes) -> None:
    assert_of_allegros_shape(read_checkout_form(body))


@FUZZ
@given(body=mutated_forms())
async def test_a_mutated_form_over_http_is_a_form_or_malformed(body: bytes) -> None:
    h = make_harness()
    h.fake.script(f"/order/checkout-forms/{FORM_ID}", _raw(body))

    try:
        result = await h.client.forms.get(FORM_ID)
    except MalformedCheckoutForm as exc:
        result = exc.unreadable
        assert result.checkout_form_id == FORM_ID
    assert_of_allegros_shape(result)


EVENT = make_event()


@st.composite
def mutated_journal_pages(draw: st.DrawFn) -> bytes:
    page: Any = {"events": [EVENT, EVENT]}
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        page = replaced(page, draw(st.sampled_from(paths(page))), draw(HOSTILE_VALUES))
    return json.dumps(page).encode()


@FUZZ
@given(body=st.one_of(mutated_journal_pages(), st.binary(max_size=512)))
async def test_a_mutated_journal_page_is_events_or_malformed(body: bytes) -> None:
    h = make_harness()
    h.fake.script("/order/events", _raw(body))

    try:
        events = await h.client.journal.fetch(None, 100)
    except MalformedResponse:
        return
    for event in events:
        assert event.id.isdigit()
        if event.malformed is None and event.checkout_form_id is not None:
            assert UUID.fullmatch(event.checkout_form_id)
        else:
            assert event.checkout_form_id is None


@FUZZ
@given(items=st.lists(mutated_forms(), min_size=1, max_size=3))
async def test_a_list_page_of_mutated_forms_is_items_or_malformed(items: list[bytes]) -> None:
    h = make_harness()
    body = b'{"checkoutForms": [' + b",".join(items) + b'], "totalCount": 3}'
    h.fake.script("/order/checkout-forms", _raw(body))

    try:
        page = await h.client.forms.search(CheckoutFormQuery())
    except MalformedBody:
        return
    for item in page.items:
        assert_of_allegros_shape(item)


def _raw(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
