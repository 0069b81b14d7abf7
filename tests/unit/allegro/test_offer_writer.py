"""The batch offer commands over HTTP (respx): the bodies Allegro gets, what each answer means
(201 sent, 409 sent before, another 4xx rejected), the PUT repeated after an outage (it is
idempotent by its id), Allegro's per-user limits on offer changes, and the reports and tasks
read strictly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from adapters.allegro import AllegroClient
from adapters.allegro.client import make_timing
from adapters.allegro.offer_change_limit import offer_change_limiters
from application.ports.errors import AllegroRejected, AllegroUnavailable, MalformedBody
from application.ports.offers import CommandReport, TaskReport
from domain.money import Money
from domain.offers import BatchCommand, BatchKind, PublicationAction

from .fakes import AUTH_URL, VENDOR, FakeTime
from .offer_bodies import (
    DEEP,
    INT32_MAX,
    OFFER_ID,
    OTHER_ID,
    client_factory,
    command_url,
    errors_body,
    price,
    publication,
    quantity,
    raw,
    report_json,
    task_json,
    vendor,
)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def make_client(time: FakeTime) -> AsyncIterator[Callable[..., AllegroClient]]:
    clients: list[AllegroClient] = []
    yield client_factory(time, clients)
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: Callable[..., AllegroClient]) -> AllegroClient:
    return make_client()


def sent_json(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


def created(command: BatchCommand) -> httpx.Response:
    return vendor(201, report_json(command.command_id))


# --- the PUT bodies ---------------------------------------------------------------------------


async def test_a_quantity_command_is_put_as_vendor_json_under_its_id(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = quantity((OTHER_ID, OFFER_ID), value=7)
    route = respx_mock.put(command_url(command)).mock(return_value=created(command))

    assert await client.offer_writer.send(command) is True

    request = route.calls.last.request
    assert request.url.path == f"/sale/offer-quantity-change-commands/{command.command_id}"
    assert request.headers["Content-Type"] == VENDOR
    assert request.headers["Accept"] == VENDOR
    assert sent_json(route) == {
        "modification": {"changeType": "FIXED", "value": 7},
        "offerCriteria": [
            {"type": "CONTAINS_OFFERS", "offers": [{"id": OTHER_ID}, {"id": OFFER_ID}]}
        ],
    }


async def test_a_price_command_names_its_marketplace_with_the_amount_as_text(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = price(amount="229.5", marketplace="allegro-cz")
    route = respx_mock.put(command_url(command)).mock(return_value=created(command))

    assert await client.offer_writer.send(command) is True

    assert route.calls.last.request.url.path.startswith("/sale/offer-price-change-commands/")
    assert sent_json(route) == {
        "modification": {
            "type": "FIXED_PRICE",
            "price": {"amount": "229.50", "currency": "CZK"},
            "marketplaceId": "allegro-cz",
        },
        "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": [{"id": OFFER_ID}]}],
    }


async def test_a_price_for_the_base_marketplace_names_none(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = price(amount="12.50")
    route = respx_mock.put(command_url(command)).mock(return_value=created(command))

    await client.offer_writer.send(command)

    assert sent_json(route)["modification"] == {
        "type": "FIXED_PRICE",
        "price": {"amount": "12.50", "currency": "PLN"},
    }


@pytest.mark.parametrize("action", [PublicationAction.END, PublicationAction.ACTIVATE])
async def test_a_publication_command_carries_its_action(
    respx_mock: respx.MockRouter, client: AllegroClient, action: PublicationAction
) -> None:
    command = publication(action=action)
    route = respx_mock.put(command_url(command)).mock(return_value=created(command))

    await client.offer_writer.send(command)

    assert route.calls.last.request.url.path.startswith("/sale/offer-publication-commands/")
    assert sent_json(route) == {
        "publication": {"action": action.value},
        "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": [{"id": OFFER_ID}]}],
    }


async def test_a_thousand_offers_go_in_one_criteria_entry(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    offers = tuple(str(10_000_000_000 + n) for n in range(1_000))
    command = quantity(offers)
    route = respx_mock.put(command_url(command)).mock(return_value=created(command))

    await client.offer_writer.send(command)

    criteria = sent_json(route)["offerCriteria"]
    assert len(criteria) == 1
    assert [offer["id"] for offer in criteria[0]["offers"]] == list(offers)


@pytest.mark.parametrize("offer_id", ["../../order/events", "", "1" * 21, "12a"])
async def test_an_offer_id_not_of_allegros_shape_is_never_sent(
    respx_mock: respx.MockRouter, client: AllegroClient, offer_id: str
) -> None:
    with pytest.raises(ValueError, match="not an offer id"):
        await client.offer_writer.send(quantity((OFFER_ID, offer_id)))
    assert respx_mock.calls.call_count == 0


async def test_a_price_allegro_cannot_take_exactly_is_never_rounded(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = BatchCommand.build(
        "default", "p0:0-1", BatchKind.PRICE, [OFFER_ID], price=Money(Decimal("12.505"), "PLN")
    )

    with pytest.raises(ValueError, match="2 digits"):
        await client.offer_writer.send(command)
    assert respx_mock.calls.call_count == 0


# --- what the answers mean --------------------------------------------------------------------


async def test_a_409_means_the_id_was_used_before_so_the_command_was_sent(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = quantity()
    body = errors_body("CommandIdAlreadyUsed", "command id was already used")
    route = respx_mock.put(command_url(command)).mock(return_value=vendor(409, body))

    assert await client.offer_writer.send(command) is False
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [(422, "INCORRECT_QUANTITY_VALUE"), (400, "VALIDATION_ERROR"), (403, "AccessDenied")],
)
async def test_another_4xx_is_rejected_with_allegros_code(
    respx_mock: respx.MockRouter, client: AllegroClient, status: int, code: str
) -> None:
    command = quantity()
    route = respx_mock.put(command_url(command)).mock(
        return_value=vendor(status, errors_body(code, "The quantity can not be changed"))
    )

    with pytest.raises(AllegroRejected) as caught:
        await client.offer_writer.send(command)

    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert "The quantity can not be changed" in str(caught.value)
    assert route.call_count == 1


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(vendor(500), id="500"),
        pytest.param(vendor(503, errors_body("SERVICE_UNAVAILABLE")), id="503"),
        pytest.param(httpx.ReadTimeout("no answer"), id="read-timeout"),
        pytest.param(httpx.RemoteProtocolError("connection closed"), id="lost-answer"),
    ],
)
async def test_the_put_is_repeated_after_an_outage_with_the_same_id_and_body(
    respx_mock: respx.MockRouter, client: AllegroClient, failure: Any
) -> None:
    command = price()
    route = respx_mock.put(command_url(command)).mock(side_effect=[failure, created(command)])

    assert await client.offer_writer.send(command) is True

    assert route.call_count == 2
    assert len({call.request.content for call in route.calls}) == 1
    assert len({call.request.url for call in route.calls}) == 1


async def test_a_repeat_answered_409_after_a_lost_answer_means_sent(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    """The first PUT was applied but its answer lost: the repeat finds the id used."""
    command = quantity()
    used = vendor(409, errors_body("CommandIdAlreadyUsed"))
    route = respx_mock.put(command_url(command)).mock(
        side_effect=[httpx.ReadTimeout("no answer"), used]
    )

    assert await client.offer_writer.send(command) is False
    assert route.call_count == 2


async def test_an_outage_that_lasts_reaches_the_caller_as_an_outage(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient]
) -> None:
    command = quantity()
    respx_mock.put(command_url(command)).mock(return_value=vendor(503))
    client = make_client(max_attempts=3)

    with pytest.raises(AllegroUnavailable):
        await client.offer_writer.send(command)


async def test_a_429_blocks_the_client_for_a_minute_then_the_put_goes(
    respx_mock: respx.MockRouter, client: AllegroClient, time: FakeTime
) -> None:
    command = quantity()
    route = respx_mock.put(command_url(command)).mock(
        side_effect=[vendor(429, errors_body("TOO_MANY_REQUESTS")), created(command)]
    )

    assert await client.offer_writer.send(command) is True
    assert route.call_count == 2
    assert 60.0 in time.sleeps


async def test_a_put_answered_401_is_sent_again_with_a_refreshed_token(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    respx_mock.post(f"{AUTH_URL}/token").respond(
        200, json={"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 43199}
    )
    command = publication()
    route = respx_mock.put(command_url(command)).mock(
        side_effect=[vendor(401, {"error": "invalid_token"}), created(command)]
    )

    assert await client.offer_writer.send(command) is True
    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer access-0",
        "Bearer access-1",
    ]


async def test_the_201_body_is_not_needed(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = quantity()
    respx_mock.put(command_url(command)).mock(return_value=raw(201, b"<not json>"))

    assert await client.offer_writer.send(command) is True


# --- Allegro's per-user limits on offer changes ----------------------------------------------


def departures(time: FakeTime, sent: list[float]) -> Callable[[httpx.Request], httpx.Response]:
    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return vendor(201, report_json("x"))

    return reply


def thousand(n: int) -> tuple[str, ...]:
    return tuple(str(10_000_000_000 + n * 1_000 + k) for k in range(1_000))


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda offers: quantity(offers), id="quantity"),
        pytest.param(lambda offers: price(offers), id="price"),
        pytest.param(lambda offers: publication(offers), id="publication"),
    ],
)
async def test_no_minute_holds_more_than_9000_offer_changes_of_a_kind(
    respx_mock: respx.MockRouter,
    make_client: Callable[..., AllegroClient],
    time: FakeTime,
    build: Callable[[tuple[str, ...]], BatchCommand],
) -> None:
    """The shared budget is wide open here: only the offer-change limit can space them."""
    sent: list[float] = []
    respx_mock.put(url__startswith="https://").mock(side_effect=departures(time, sent))
    client = make_client(rate_limit_per_minute=9_000, rate_limit_burst=1_000)

    for n in range(12):
        await client.offer_writer.send(build(thousand(n)))

    assert sent[8] == sent[0]  # nine commands of 1 000 offers leave at once...
    assert sent[9] - sent[0] == pytest.approx(61.0)  # ...the tenth when the first has aged out
    assert min(sent[i + 9] - sent[i] for i in range(len(sent) - 9)) >= 60.0


async def test_a_new_terms_client_keeps_counting_what_the_last_one_sent(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient], time: FakeTime
) -> None:
    """The service builds a client per term; the per-user limits span them (a term that
    starts again after a lease flap must not send another 9 000 in the same minute)."""
    sent: list[float] = []
    respx_mock.put(url__startswith="https://").mock(side_effect=departures(time, sent))
    shared = offer_change_limiters(make_timing(time, time.monotonic, time.sleep, None))
    first = make_client(offer_limiters=shared, rate_limit_per_minute=9_000, rate_limit_burst=1_000)
    for n in range(9):
        await first.offer_writer.send(quantity(thousand(n)))
    second = make_client(offer_limiters=shared, rate_limit_per_minute=9_000, rate_limit_burst=1_000)

    await second.offer_writer.send(quantity(thousand(9)))

    assert sent[9] - sent[0] == pytest.approx(61.0)


async def test_quantity_and_price_limits_are_counted_apart(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient], time: FakeTime
) -> None:
    sent: list[float] = []
    respx_mock.put(url__startswith="https://").mock(side_effect=departures(time, sent))
    client = make_client(rate_limit_per_minute=9_000, rate_limit_burst=1_000)

    for n in range(9):
        await client.offer_writer.send(quantity(thousand(n)))
    for n in range(9):
        await client.offer_writer.send(price(thousand(n)))

    assert time.sleeps == []
    assert len(sent) == 18


async def test_a_small_command_takes_only_its_offers(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient], time: FakeTime
) -> None:
    sent: list[float] = []
    respx_mock.put(url__startswith="https://").mock(side_effect=departures(time, sent))
    client = make_client(rate_limit_per_minute=9_000, rate_limit_burst=1_000)

    for n in range(8):
        await client.offer_writer.send(quantity(thousand(n)))
    for n in range(100):
        await client.offer_writer.send(quantity((str(20_000_000_000 + n),)))

    assert time.sleeps == []  # 8 000 + 100 offers: within the minute's 9 000


# --- reports ------------------------------------------------------------------------------


async def test_a_report_is_read_from_the_commands_resource(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = price()
    route = respx_mock.get(command_url(command)).mock(
        return_value=vendor(
            200,
            report_json(
                command.command_id, 3, 2, 1, completedAt="2026-03-14T09:00:01.000Z", extra={}
            ),
        )
    )

    report = await client.offer_writer.report(command)

    assert report == CommandReport(total=3, success=2, failed=1, completed=True)
    assert report.final
    assert route.calls.last.request.url.path.startswith("/sale/offer-price-change-commands/")


async def test_the_first_report_is_often_all_zeros_and_not_final(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = quantity()
    respx_mock.get(command_url(command)).mock(
        return_value=vendor(200, report_json(command.command_id))
    )

    report = await client.offer_writer.report(command)

    assert report == CommandReport(0, 0, 0, completed=False)
    assert not report.final


async def test_a_report_is_read_again_after_an_outage(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = publication()
    route = respx_mock.get(command_url(command)).mock(
        side_effect=[vendor(504), vendor(200, report_json(command.command_id, 1, 1, 0))]
    )

    assert (await client.offer_writer.report(command)).success == 1
    assert route.call_count == 2


async def test_an_unknown_command_is_rejected_404(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = quantity()
    respx_mock.get(command_url(command)).mock(return_value=vendor(404, errors_body("NOT_FOUND")))

    with pytest.raises(AllegroRejected) as caught:
        await client.offer_writer.report(command)
    assert caught.value.status_code == 404


def _report(**task_count: Any) -> bytes:
    counts = {"total": 1, "success": 1, "failed": 0, **task_count}
    return json.dumps({"completedAt": None, "taskCount": counts}).encode()


HOSTILE_REPORTS = [
    (b"<html>oops</html>", "not-json"),
    (DEEP, "nested"),
    (b"null", "null"),
    (b'{"completedAt": null}', "no-task-count"),
    (_report(total=-1), "negative"),
    (_report(success=INT32_MAX + 1), "past-int32"),
    (_report(failed="1"), "a-string"),
    (_report(total=1.5), "a-float"),
    (json.dumps({"taskCount": {"total": 1}}).encode(), "counts-missing"),
    (
        json.dumps(
            {"completedAt": "yesterday", "taskCount": {"total": 0, "success": 0, "failed": 0}}
        ).encode(),
        "completed-at-not-a-time",
    ),
    (json.dumps({"id": "another", **json.loads(_report())}).encode(), "another-commands"),
]


@pytest.mark.parametrize("body", [pytest.param(b, id=i) for b, i in HOSTILE_REPORTS])
async def test_a_hostile_report_is_malformed(
    respx_mock: respx.MockRouter, client: AllegroClient, body: bytes
) -> None:
    command = quantity()
    respx_mock.get(command_url(command)).mock(return_value=raw(200, body))

    with pytest.raises(MalformedBody):
        await client.offer_writer.report(command)


# --- tasks --------------------------------------------------------------------------------


async def test_every_task_is_read_in_one_page(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = quantity((OFFER_ID, OTHER_ID))
    failed = task_json(
        OTHER_ID,
        "FAIL",
        message="The offer is being modified by another process. Try again later.",
        errors=[{"code": "OFFER_LOCKED", "message": "locked", "path": None}],
    )
    route = respx_mock.get(f"{command_url(command)}/tasks").mock(
        return_value=vendor(200, {"tasks": [task_json(), failed]})
    )

    tasks = await client.offer_writer.tasks(command)

    assert list(tasks) == [
        TaskReport(OFFER_ID, "SUCCESS"),
        TaskReport(
            OTHER_ID,
            "FAIL",
            "The offer is being modified by another process. Try again later.",
            "OFFER_LOCKED",
        ),
    ]
    assert dict(route.calls.last.request.url.params) == {"limit": "1000", "offset": "0"}


async def test_a_failed_task_without_a_message_takes_its_first_errors(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = quantity()
    error = {"code": "INVALID_OFFER_QUANTITY", "message": "less than 1", "userMessage": "x"}
    respx_mock.get(f"{command_url(command)}/tasks").mock(
        return_value=vendor(200, {"tasks": [task_json(status="FAIL", errors=[error])]})
    )

    [task] = await client.offer_writer.tasks(command)

    assert (task.message, task.code) == ("less than 1", "INVALID_OFFER_QUANTITY")


async def test_a_task_status_allegro_adds_is_kept(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = quantity()
    respx_mock.get(f"{command_url(command)}/tasks").mock(
        return_value=vendor(200, {"tasks": [task_json(status="RETRYING_2027", future=1)]})
    )

    [task] = await client.offer_writer.tasks(command)

    assert task.status == "RETRYING_2027"


async def test_allegros_words_about_a_task_are_printable_and_short(
    respx_mock: respx.MockRouter, client: AllegroClient
) -> None:
    command = quantity()
    long_words = task_json(
        status="FAIL",
        message="bad\x00\n" + "y" * 50_000,
        errors=[{"code": "C\x07" + "X" * 5_000}],
    )
    respx_mock.get(f"{command_url(command)}/tasks").mock(
        return_value=vendor(200, {"tasks": [long_words]})
    )

    [task] = await client.offer_writer.tasks(command)

    assert task.message is not None
    assert task.code is not None
    assert len(task.message) <= 300
    assert task.message.isprintable()
    assert task.message.startswith("bady")
    assert len(task.code) <= 100
    assert task.code.isprintable()


def _tasks(*items: Any) -> bytes:
    return json.dumps({"tasks": list(items)}).encode()


HOSTILE_TASKS = [
    (b"", "empty"),
    (DEEP, "nested"),
    (b'{"tasks": {}}', "tasks-not-a-list"),
    (b"{}", "no-tasks"),
    (_tasks(*(task_json() for _ in range(1_001))), "more-than-1000"),
    (_tasks(task_json(offer_id="../x")), "offer-id-a-path"),
    (_tasks({"status": "SUCCESS"}), "no-offer"),
    (_tasks(task_json(status="success")), "status-not-allegros-shape"),
    (_tasks(task_json(status=None)), "status-null"),
    (_tasks(task_json(errors="boom")), "errors-not-a-list"),
]


@pytest.mark.parametrize("body", [pytest.param(b, id=i) for b, i in HOSTILE_TASKS])
async def test_a_hostile_task_list_is_malformed(
    respx_mock: respx.MockRouter, client: AllegroClient, body: bytes
) -> None:
    command = quantity()
    respx_mock.get(f"{command_url(command)}/tasks").mock(return_value=raw(200, body))

    with pytest.raises(MalformedBody):
        await client.offer_writer.tasks(command)


async def test_a_report_over_the_body_limit_is_malformed(
    respx_mock: respx.MockRouter, make_client: Callable[..., AllegroClient]
) -> None:
    command = quantity()
    respx_mock.get(command_url(command)).mock(
        return_value=vendor(200, report_json(command.command_id, padding="p" * 4_096))
    )
    client = make_client(max_body_bytes=1_024)

    with pytest.raises(MalformedBody, match="larger than 1024 bytes"):
        await client.offer_writer.report(command)
