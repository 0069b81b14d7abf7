"""Bodies no honest Allegro sends: each ends on the malformed or poison path, never as an
exception that escapes the poll (issue: hostile input)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import pytest

from adapters.allegro import MalformedResponse
from adapters.allegro.translate import read_checkout_form
from application.ports.allegro import CheckoutFormQuery, UnreadableCheckoutForm
from application.ports.errors import AllegroRejected, MalformedBody, MalformedCheckoutForm

from .builders import FORM_ID, make_checkout_form, make_event
from .fakes import make_harness, vendor_json

FORM_PATH = f"/order/checkout-forms/{FORM_ID}"
DEEP = b"[" * 100_000 + b"]" * 100_000  # RecursionError in Python's json module
HUGE_INT = b"9" * 5_000  # past CPython's 4 300-digit limit for int <-> str


def raw(status: int, body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, content=body, headers={"Content-Type": "application/json", **headers}
    )


def form_with(key: str, raw_value: bytes) -> bytes:
    """A real form's body with one value replaced by raw JSON text."""
    text = json.dumps({**make_checkout_form(), key: "__X__"}).encode()
    return text.replace(b'"__X__"', raw_value)


def hostile_form_bodies() -> list[Any]:
    return [
        pytest.param(form_with("messageToSeller", DEEP), id="nested-100000-deep"),
        pytest.param(form_with("messageToSeller", HUGE_INT), id="int-of-5000-digits"),
        pytest.param(DEEP, id="only-nesting"),
        pytest.param(b'{"id": ' + HUGE_INT + b"}", id="int-id"),
    ]


@pytest.mark.parametrize("body", hostile_form_bodies())
async def test_a_hostile_form_body_is_a_malformed_form(body: bytes) -> None:
    h = make_harness()
    h.fake.script(FORM_PATH, raw(200, body))

    with pytest.raises(MalformedCheckoutForm) as caught:
        await h.client.forms.get(FORM_ID)

    assert caught.value.unreadable.checkout_form_id == FORM_ID


@pytest.mark.parametrize("body", hostile_form_bodies())
def test_translating_a_hostile_body_gives_an_unreadable_form(body: bytes) -> None:
    assert isinstance(read_checkout_form(body), UnreadableCheckoutForm)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"events": ' + DEEP + b"}", id="deep"),
        pytest.param(b'{"events": [{"id": ' + HUGE_INT + b"}]}", id="huge-int"),
        pytest.param(DEEP, id="only-nesting"),
    ],
)
async def test_a_hostile_journal_page_is_a_malformed_response(body: bytes) -> None:
    h = make_harness()
    h.fake.script("/order/events", raw(200, body))

    with pytest.raises(MalformedResponse):
        await h.client.journal.fetch(None, 100)


async def test_a_hostile_list_page_is_a_malformed_body() -> None:
    h = make_harness()
    page = b'{"checkoutForms": [' + form_with("note", DEEP) + b'], "totalCount": 1}'
    h.fake.script("/order/checkout-forms", raw(200, page))

    with pytest.raises(MalformedBody):
        await h.client.forms.search(_query())


@pytest.mark.parametrize("body", [DEEP, b'{"errors": [{"code": ' + HUGE_INT + b"}]}"])
async def test_a_hostile_error_body_still_gives_the_status_error(body: bytes) -> None:
    h = make_harness()
    h.fake.script(FORM_PATH, raw(400, body))

    with pytest.raises(AllegroRejected, match="HTTP 400"):
        await h.client.forms.get(FORM_ID)


def test_a_form_id_a_revision_or_a_status_of_another_shape_is_unreadable() -> None:
    for overrides in (
        {"id": "."},
        {"id": f"{FORM_ID}\x00"},
        {"revision": "3fa1c09e\x00"},
        {"revision": "../x"},
        {"status": "ready; DROP"},
        {"fulfillment": {"status": "N\x00EW"}},
    ):
        result = read_checkout_form(json.dumps(make_checkout_form(**overrides)))
        assert isinstance(result, UnreadableCheckoutForm), overrides
        assert "shape" in result.reason


def test_an_unknown_status_of_allegros_shape_is_still_read() -> None:
    result = read_checkout_form(json.dumps(make_checkout_form(status="SOMETHING_NEW_2027")))

    assert not isinstance(result, UnreadableCheckoutForm)


async def test_a_form_body_for_another_id_is_malformed() -> None:
    h = make_harness()
    other = "0f0f0f0f-0000-11f1-8000-0000000000ff"
    h.fake.script(FORM_PATH, vendor_json(200, make_checkout_form(id=other)))

    with pytest.raises(MalformedCheckoutForm, match="another checkout form"):
        await h.client.forms.get(FORM_ID)


async def test_journal_events_naming_no_order_we_may_read_are_marked_malformed() -> None:
    h = make_harness()
    events = [
        make_event("1", form_id="."),
        make_event("2", form_id=FORM_ID, revision="bad\x00rev"),
        make_event("3", event_type="<script>"),
        make_event("4"),
    ]
    h.fake.script("/order/events", vendor_json(200, {"events": events}))

    fetched = await h.client.journal.fetch(None, 100)

    assert [(e.id, e.checkout_form_id, e.malformed is not None) for e in fetched] == [
        ("1", None, True),
        ("2", None, True),
        ("3", None, True),
        ("4", FORM_ID, False),
    ]
    assert json.loads(fetched[0].raw or "")["order"]["checkoutForm"]["id"] == "."


async def test_an_event_id_that_is_not_digits_fails_the_page() -> None:
    h = make_harness()
    h.fake.script("/order/events", vendor_json(200, {"events": [make_event("12a")]}))

    with pytest.raises(MalformedResponse, match="event id"):
        await h.client.journal.fetch(None, 100)


async def test_an_oversize_form_is_malformed_with_the_head_of_its_body() -> None:
    h = make_harness(max_body_bytes=64 * 1024)
    body = json.dumps(make_checkout_form(messageToSeller="x" * 200_000)).encode()
    h.fake.script(FORM_PATH, raw(200, body))

    with pytest.raises(MalformedCheckoutForm, match="ALLEGRO_MAX_BODY_BYTES") as caught:
        await h.client.forms.get(FORM_ID)

    assert caught.value.unreadable.raw == body[:4096].decode()


async def test_an_oversize_compressed_body_counts_its_decompressed_size() -> None:
    h = make_harness(max_body_bytes=64 * 1024)
    bomb = gzip.compress(b'{"events": [' + b" " * 10_000_000 + b"]}")
    h.fake.script("/order/events", raw(200, bomb, **{"Content-Encoding": "gzip"}))

    with pytest.raises(MalformedResponse, match="larger than 65536 bytes"):
        await h.client.journal.fetch(None, 100)

    assert len(bomb) < 64 * 1024  # small on the wire, refused by what it expands to


async def test_a_declared_oversize_length_is_refused_before_reading() -> None:
    h = make_harness(max_body_bytes=64 * 1024)
    h.fake.script("/order/events", raw(200, b'{"events": []}', **{"Content-Length": "999999"}))

    with pytest.raises(MalformedResponse, match="larger than"):
        await h.client.journal.fetch(None, 100)


async def test_a_body_within_the_limit_is_read_whole() -> None:
    h = make_harness(max_body_bytes=64 * 1024)
    h.fake.script(FORM_PATH, vendor_json(200, make_checkout_form(messageToSeller="x" * 60_000)))

    order = await h.client.forms.get(FORM_ID)

    assert order.message_to_seller == "x" * 60_000


def _query() -> CheckoutFormQuery:
    return CheckoutFormQuery()


async def test_a_body_that_does_not_decompress_is_a_malformed_form_not_an_outage() -> None:
    h = make_harness()
    corrupt = httpx.Response(
        200,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        stream=httpx.ByteStream(b"\x1f\x8bnot gzip at all"),  # decoded only when read
    )
    h.fake.script(FORM_PATH, corrupt)

    with pytest.raises(MalformedCheckoutForm, match="cannot be decoded"):
        await h.client.forms.get(FORM_ID)


async def test_an_event_stats_id_that_is_not_digits_is_malformed() -> None:
    h = make_harness()
    h.fake.script("/order/event-stats", vendor_json(200, {"latestEvent": {"id": "12\x003"}}))

    with pytest.raises(MalformedResponse, match="event id"):
        await h.client.journal.latest_event_id()
