"""Bad data is a bad item, never a crash.

Checkout-form JSON of every shape the wire schema admits (random nulls and missing optional
fields, unknown enum values, odd money strings such as "70", numbers where strings are
expected, extra fields) goes through the adapter translation, `ImportPolicy.decide` and the
Kafka encoding. It either maps, or fails with one of the known, dead-letterable errors:
the adapter's `UnreadableCheckoutForm` (raised as `MalformedCheckoutForm` by the reader) or
a domain error (`UnmappableOrder`, `InvalidValue`). And `SyncOrders` driven by the poll
loop over such forms never raises: every form ends up published, dead-lettered or rightly
ignored, and the cursor passes them all.

Two inputs that used to crash the run (a currency with a trailing newline; far-past or
far-future times with an offset) are pinned by the regression tests at the end.
"""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.allegro.translate import read_checkout_form
from adapters.kafka.messages import encode_event
from application.poll_loop import Backoff, PollLoop
from application.ports import JournalEvent, UnreadableCheckoutForm
from application.ports.publisher import DeadLetter, OutboundMessage
from application.sync_orders import SyncSettings
from domain.errors import DomainError
from domain.events import DomainEvent
from domain.mapping import StatusTriple
from domain.order import OrderSnapshot
from domain.policy import ImportPolicy, ImportTrigger, OrderRecord, Revelation
from domain.statuses import OrderStatus, PaymentStatus
from entrypoints.assembly import order_import
from tests.support.fakes import T0, FakeAllegro, FakeClock, InMemoryEventPublisher, MemoryStateStore

ACCOUNT = "props"
PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=timedelta(milliseconds=1000),
    suppress_health_check=[HealthCheck.too_slow],
)

# ------------------------------------------------------------------ wire-shaped strategies

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=8)
)
extra_fields = st.dictionaries(
    st.text(string.ascii_letters, min_size=1, max_size=8).map(lambda k: f"x{k}"),
    json_scalars,
    max_size=2,
)


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` about nine times in ten: a form has several money fields, and one odd value
    makes the whole form unreadable, which would leave the mapping path untested."""
    return st.sampled_from(range(10)).flatmap(lambda n: odd if n == 9 else usual)


amounts = mostly(
    st.one_of(
        st.sampled_from(["70", "70.00", "0.01", "0", "1e3", "0070", " 70 "]),
        st.decimals(min_value=0, max_value=10**9, allow_nan=False, places=2).map(str),
        st.integers(0, 10**9),  # a JSON number where a string is expected
        st.floats(0, 1e9, allow_nan=False),
    ),
    st.sampled_from(
        ["-5.00", "1E-2", "7_0", "12,50", "abc", "", "NaN", "-Infinity", "1.2.3", "٣٤"]
    ),
)
currencies = mostly(
    st.sampled_from(["PLN", "CZK", "EUR", "HUF"]),
    st.one_of(
        st.sampled_from(["pln", "PL", "PLNX", "", "ZŁ", 985]),
        st.text(alphabet="ABCPLNzł9 \n", max_size=4),
    ),
)
money = st.fixed_dictionaries(
    {"amount": amounts, "currency": currencies}, optional={"extra": json_scalars}
)
offsets = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))])
times = mostly(
    st.one_of(
        st.datetimes(datetime(1970, 1, 2), datetime(2100, 1, 1), timezones=offsets).map(
            lambda t: t.isoformat()
        ),
        st.sampled_from(["2026-03-14T09:12:40.118Z", "2026-03-14T09:12:40"]),
        st.integers(0, 4_000_000_000),  # epoch seconds: pydantic reads them as times
    ),
    st.sampled_from(["not a date", "", "2026-13-40T00:00Z", "2026-03-14T25:00:00Z"]),
)
statuses = mostly(
    st.sampled_from(["BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "CANCELLED"]),
    st.sampled_from(["ON_THE_MOON", "", "bought"]),
)
fulfillment_statuses = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "NEW",
            "PROCESSING",
            "READY_FOR_SHIPMENT",
            "READY_FOR_PICKUP",
            "SENT",
            "PICKED_UP",
            "CANCELLED",
            "SUSPENDED",
            "RETURNED",
            "LOST_IN_TRANSIT",
            "",
            "sent",
        ]
    ),
)
optional_text = st.one_of(st.none(), st.text(max_size=12))
ids = st.one_of(st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12))


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


buyers = st.fixed_dictionaries(
    {"id": ids, "email": st.text(max_size=12), "login": st.text(max_size=12)},
    optional={
        "guest": st.one_of(st.booleans(), st.none(), st.just("yes")),
        "firstName": optional_text,
        "lastName": optional_text,
        "companyName": optional_text,
        "phoneNumber": optional_text,
        "address": json_scalars,
    },
)
line_items = st.fixed_dictionaries(
    {
        "id": ids,
        "offer": st.fixed_dictionaries(
            {"id": st.one_of(ids, st.integers(1, 10**12))},
            optional={
                "name": optional_text,
                "external": maybe(st.fixed_dictionaries({}, optional={"id": optional_text})),
            },
        ),
        "quantity": mostly(st.integers(0, 10**6), st.sampled_from([-1, "2", 2.0, 2.5, "two"])),
        "price": money,
    },
    optional={"originalPrice": maybe(money), "boughtAt": maybe(times), "extra": extra_fields},
)
payments = st.fixed_dictionaries(
    {},
    optional={
        "id": maybe(ids),
        "type": st.sampled_from(["ONLINE", "CASH_ON_DELIVERY", "SPLIT_PAYMENT", None, ""]),
        "provider": optional_text,
        "finishedAt": maybe(times),
        "paidAmount": maybe(money),
    },
)
addresses = st.fixed_dictionaries(
    {},
    optional={
        key: optional_text
        for key in (
            "firstName",
            "lastName",
            "companyName",
            "street",
            "city",
            "zipCode",
            "countryCode",
            "phoneNumber",
        )
    },
)
postal = st.fixed_dictionaries(
    {}, optional={key: optional_text for key in ("street", "city", "zipCode", "countryCode")}
)
deliveries = st.fixed_dictionaries(
    {},
    optional={
        "address": maybe(addresses),
        "method": maybe(
            st.fixed_dictionaries({}, optional={"id": optional_text, "name": optional_text})
        ),
        "pickupPoint": maybe(
            st.fixed_dictionaries(
                {},
                optional={"id": optional_text, "name": optional_text, "address": maybe(postal)},
            )
        ),
        "cost": maybe(money),
    },
)
tax_ids = st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["PL_VAT", "CZ_VAT", "??"]), "value": ids}),
    max_size=2,
)
invoices = st.fixed_dictionaries(
    {},
    optional={
        "required": st.one_of(st.booleans(), st.none()),
        "address": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "street": optional_text,
                    "company": maybe(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "name": optional_text,
                                "ids": maybe(tax_ids),
                                "taxId": optional_text,
                                "vatPayerStatus": optional_text,
                            },
                        )
                    ),
                    "naturalPerson": maybe(
                        st.fixed_dictionaries({}, optional={"firstName": optional_text})
                    ),
                },
            )
        ),
    },
)
checkout_forms = st.fixed_dictionaries(
    {
        "id": ids,
        "status": statuses,
        "buyer": buyers,
        "lineItems": st.lists(line_items, max_size=3),
        "summary": st.fixed_dictionaries({"totalToPay": money}),
    },
    optional={
        "revision": maybe(ids),
        "messageToSeller": optional_text,
        "payment": maybe(payments),
        "fulfillment": maybe(
            st.fixed_dictionaries({}, optional={"status": fulfillment_statuses, "x": json_scalars})
        ),
        "delivery": maybe(deliveries),
        "invoice": maybe(invoices),
        "marketplace": maybe(st.fixed_dictionaries({}, optional={"id": optional_text})),
        "updatedAt": maybe(times),
        "surcharges": st.lists(json_scalars, max_size=2),
        "extraTopLevel": extra_fields,
    },
)


@st.composite
def damaged_forms(draw: st.DrawFn) -> dict[str, Any]:
    """A form, sometimes with one required part removed or replaced by a wrong type."""
    form: dict[str, Any] = draw(checkout_forms)
    damage = draw(st.sampled_from([None] * 9 + ["drop", "null", "type"]))
    if damage is not None:
        key = draw(st.sampled_from(["id", "status", "buyer", "lineItems", "summary"]))
        if damage == "drop":
            form.pop(key)
        else:
            form[key] = None if damage == "null" else draw(st.sampled_from([[], {}, 7, "x"]))
    return form


records = st.one_of(
    st.none(),
    st.builds(
        lambda form_id, status, payment, fulfillment: OrderRecord(
            form_id, "r0", StatusTriple(status, payment, fulfillment)
        ),
        st.just(""),  # replaced by the form's id
        st.sampled_from(list(OrderStatus)),
        st.sampled_from(list(PaymentStatus)),
        fulfillment_statuses,
    ),
)


# ------------------------------------------------------------------ the properties


def decide_and_encode(order: OrderSnapshot, record: OrderRecord | None, saw: bool) -> None:
    """Decide, then encode what was decided as the real publisher would."""
    policy = ImportPolicy(account=ACCOUNT, trigger=ImportTrigger.READY_FOR_PROCESSING)
    revelation = Revelation("READY_FOR_PROCESSING", T0, saw_trigger_event=saw)
    try:
        decision = policy.decide(order, record, revelation)
    except DomainError:
        return  # dead-letterable: SyncOrders retries, then quarantines it
    for event in decision.events:
        key, value, headers = encode_event(event)
        message = json.loads(value)
        assert dict(headers)["ce_id"].decode() == message["event_id"] == str(event.event_id)
        assert key.decode() == order.id
        if "total_amount" in message:
            Decimal(message["total_amount"])  # a decimal string, never a float


@PROPERTY_SETTINGS
@given(form=damaged_forms(), record=records, saw=st.booleans())
def test_any_wire_form_maps_or_fails_as_a_dead_letterable_error(form, record, saw):
    raw = json.dumps(form)

    result = read_checkout_form(raw)

    if isinstance(result, UnreadableCheckoutForm):
        assert result.raw == raw
        assert result.reason
        return
    if record is not None:
        record = OrderRecord(result.id, record.revision, record.published)
    decide_and_encode(result, record, saw)


@PROPERTY_SETTINGS
@given(
    body=st.one_of(st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
)
def test_a_body_that_is_not_a_form_is_unreadable_not_an_exception(body):
    result = read_checkout_form(body)

    assert isinstance(result, OrderSnapshot | UnreadableCheckoutForm)


class EncodingPublisher(InMemoryEventPublisher):
    """The fake publisher, plus the real Kafka encoding the aiokafka adapter applies."""

    def encode(
        self, events: Sequence[DomainEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[OutboundMessage]:
        for event in events:  # the real Kafka encoding must not raise for any mapped form
            encode_event(event)
        return super().encode(events, dead_letters)


def journal_event(seq: int, form_id: str, revision: str | None) -> JournalEvent:
    return JournalEvent(
        id=str(1773479698020317 + seq),
        type="READY_FOR_PROCESSING",
        occurred_at=T0 + timedelta(seconds=seq),
        checkout_form_id=form_id,
        revision=revision,
    )


@settings(max_examples=60, deadline=timedelta(milliseconds=2000))
@given(forms=st.lists(damaged_forms(), min_size=1, max_size=8), max_attempts=st.integers(1, 3))
@example(  # found in CI: a numeric id is read as its text, and published under it
    forms=[
        {
            "id": 7,
            "status": "READY_FOR_PROCESSING",
            "buyer": {"id": "0", "email": "", "login": ""},
            "lineItems": [],
            "summary": {"totalToPay": {"amount": "1E-2", "currency": "PLN"}},
        }
    ],
    max_attempts=1,
)
def test_the_poll_loop_never_raises_for_bad_data_and_passes_every_form(forms, max_attempts):
    allegro, publisher, state = FakeAllegro(), EncodingPublisher(), MemoryStateStore()
    for seq, form in enumerate(forms, start=1):
        form_id = f"form-{seq}"
        if isinstance(form.get("id"), str):
            form["id"] = form_id  # the journal and the form agree on the id, as in Allegro
        raw = json.dumps(form)
        result = read_checkout_form(raw)
        if isinstance(result, UnreadableCheckoutForm):
            result = UnreadableCheckoutForm(form_id, raw, result.reason)
        allegro.forms[form_id] = result
        allegro.events.append(journal_event(seq, form_id, form.get("revision")))
    sync = order_import(
        journal=allegro,
        forms=allegro,
        publisher=publisher,
        state=state,
        policy=ImportPolicy(account=ACCOUNT),
        settings=SyncSettings(account=ACCOUNT, start_from="earliest", max_attempts=max_attempts),
        clock=FakeClock(),
    ).sync
    loop = PollLoop(sync, FakeClock(), idle_seconds=0.0, backoff=Backoff(jitter=lambda: 0.0))

    async def poll_until_passed() -> None:
        for _ in range(max_attempts + 1):
            await loop.step()  # raising here is the failure this test looks for

    asyncio.run(poll_until_passed())

    assert state.cursors[ACCOUNT].position == allegro.events[-1].id
    assert loop.status.consecutive_failures == 0
    published = {event.external_id for event in publisher.published}
    quarantined = {letter.checkout_form_id for letter in publisher.dead_letters}
    # Published under the id the form itself carries (a number there is read as its text).
    assert published == {form.id for form in allegro.forms.values() if outcome(form) == "events"}
    assert quarantined == {fid for fid, form in allegro.forms.items() if outcome(form) == "bad"}
    for letter in publisher.dead_letters:
        assert letter.attempts == max_attempts
        assert letter.allegro_event_id is not None


def outcome(form: OrderSnapshot | UnreadableCheckoutForm) -> str:
    """What a lone RFP event for `form` must lead to: events, nothing, or quarantine."""
    if isinstance(form, UnreadableCheckoutForm):
        return "bad"
    revelation = Revelation("READY_FOR_PROCESSING", T0, saw_trigger_event=True)
    try:
        decision = ImportPolicy(account=ACCOUNT).decide(form, None, revelation)
    except DomainError:
        return "bad"
    return "events" if decision.events else "nothing"


# ------------------------------------------------------------------ known crashes (bugs)

GOOD_FORM = {
    "id": "f-1",
    "status": "READY_FOR_PROCESSING",
    "buyer": {"id": "b-1", "email": "b@example.com", "login": "b"},
    "lineItems": [],
    "summary": {"totalToPay": {"amount": "10.00", "currency": "PLN"}},
}


def test_a_currency_with_a_trailing_newline_is_rejected_before_publishing():
    form = {**GOOD_FORM, "summary": {"totalToPay": {"amount": "10.00", "currency": "PLN\n"}}}

    result = read_checkout_form(json.dumps(form))

    assert isinstance(result, UnreadableCheckoutForm)


@pytest.mark.parametrize("instant", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_a_time_at_the_edge_of_the_calendar_makes_the_form_unreadable(instant):
    result = read_checkout_form(json.dumps({**GOOD_FORM, "updatedAt": instant}))

    assert isinstance(result, UnreadableCheckoutForm)
