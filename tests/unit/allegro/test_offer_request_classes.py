"""The offer ports share the client id's one budget with the order ports, each in its request
class (budget_share.py): the offer events path (journal, offers, the sweep's listing) in the
import class, the command path (its SKUs' offers, the batch commands, their reports and
tasks) in the commands class."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import respx

from adapters.allegro import AllegroClient
from adapters.allegro.rate_limit import WINDOW_SECONDS

from .fakes import API_URL, FakeTime
from .offer_bodies import (
    OFFER_ID,
    client_factory,
    command_url,
    event_json,
    offers_page,
    product_offer_json,
    quantity,
    report_json,
    task_json,
    vendor,
)

COMMAND = quantity()
Call = Callable[[AllegroClient], Awaitable[Any]]
IMPORT_CALLS: list[Call] = [
    lambda c: c.offer_journal.events(None, 10),
    lambda c: c.offer_journal.offer(OFFER_ID),
    lambda c: c.offer_catalog.list_page(0, 1000),
]
COMMAND_CALLS: list[Call] = [
    lambda c: c.command_offer_catalog.find_by_skus(["KON-10L-GR"]),
    lambda c: c.offer_writer.send(COMMAND),
    lambda c: c.offer_writer.report(COMMAND),
    lambda c: c.offer_writer.tasks(COMMAND),
]


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def make_client(time: FakeTime) -> AsyncIterator[Callable[..., AllegroClient]]:
    clients: list[AllegroClient] = []
    yield client_factory(time, clients)
    for client in clients:
        await client.aclose()


@pytest.fixture(autouse=True)
def allegro(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{API_URL}/sale/offer-events").mock(
        return_value=vendor(200, {"offerEvents": [event_json()]})
    )
    respx_mock.get(f"{API_URL}/sale/product-offers/{OFFER_ID}").mock(
        return_value=vendor(200, product_offer_json())
    )
    respx_mock.get(f"{API_URL}/sale/offers").mock(return_value=vendor(200, offers_page()))
    respx_mock.put(command_url(COMMAND)).mock(return_value=vendor(201, report_json("x")))
    respx_mock.get(command_url(COMMAND)).mock(
        return_value=vendor(200, report_json(COMMAND.command_id))
    )
    respx_mock.get(f"{command_url(COMMAND)}/tasks").mock(
        return_value=vendor(200, {"tasks": [task_json()]})
    )
    respx_mock.get(f"{API_URL}/order/event-stats").mock(return_value=vendor(200, {}))


async def test_the_offer_events_path_counts_against_the_import_class(
    make_client: Callable[..., AllegroClient], time: FakeTime
) -> None:
    """A budget of 10 a minute: the commands class may send one request a window (1 - 0.9 of
    10), the import nine. Three import reads after a command's request wait for nothing."""
    client = make_client(rate_limit_per_minute=10, import_min_share=0.9, commands_min_share=0.1)
    await COMMAND_CALLS[0](client)

    for call in IMPORT_CALLS:
        await call(client)

    assert time.sleeps == []


@pytest.mark.parametrize("call", COMMAND_CALLS, ids=["skus", "send", "report", "tasks"])
async def test_each_request_of_the_command_path_counts_against_the_commands_class(
    make_client: Callable[..., AllegroClient], time: FakeTime, call: Call
) -> None:
    """The commands class may send one request a window: a second one waits for it."""
    client = make_client(rate_limit_per_minute=10, import_min_share=0.9, commands_min_share=0.1)
    await COMMAND_CALLS[0](client)

    await call(client)

    assert sum(time.sleeps) == pytest.approx(WINDOW_SECONDS)


async def test_offer_requests_and_order_requests_draw_from_one_bucket(
    make_client: Callable[..., AllegroClient], time: FakeTime
) -> None:
    """One token a second, no burst: each request waits for its token after the one before."""
    client = make_client(rate_limit_per_minute=60, rate_limit_burst=1)
    await client.journal.latest_event_id()
    await client.offer_journal.events(None, 10)
    await client.offer_writer.report(COMMAND)

    assert time.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]
