"""The adapter over real HTTP against the Allegro simulator."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from decimal import Decimal

import pytest

from adapters.allegro import DeviceFlow
from application.ports.allegro import CheckoutFormPage, CheckoutFormQuery, JournalEvent
from application.ports.errors import (
    AllegroAuthError,
    AllegroUnavailable,
    CheckoutFormNotFound,
)
from application.ports.state import TokenPair
from domain.order import OrderSnapshot

from .conftest import MemoryTokenStore, Sandbox, SandboxFactory, SkewedTime

pytestmark = pytest.mark.integration


async def read_whole_journal(sandbox: Sandbox, page: int) -> list[JournalEvent]:
    events: list[JournalEvent] = []
    async with sandbox.client() as client:
        cursor: str | None = None
        while batch := await client.journal.fetch(cursor, page):
            events.extend(batch)
            cursor = batch[-1].id
    return events


async def test_every_event_and_checkout_form_of_a_scripted_set_translates(
    sandbox: Sandbox,
) -> None:
    sandbox.state.script_mixed_lifecycles(40, seed=11)
    expected_ids = [event["id"] for event in sandbox.state.journal()]

    events = await read_whole_journal(sandbox, page=25)

    assert [e.id for e in events] == expected_ids
    form_ids = {e.checkout_form_id for e in events if e.checkout_form_id}
    live = set(sandbox.state.order_ids())
    async with sandbox.client() as client:
        assert await client.journal.latest_event_id() == expected_ids[-1]
        for form_id in sorted(form_ids):
            if form_id not in live:  # merged into a newer order: Allegro answers 404
                with pytest.raises(CheckoutFormNotFound):
                    await client.forms.get(form_id)
                continue
            order = await client.forms.get(form_id)
            assert_matches_simulator(order, sandbox)
    assert live <= form_ids


def assert_matches_simulator(order: OrderSnapshot, sandbox: Sandbox) -> None:
    raw = sandbox.state.checkout_form(order.id)
    assert order.status == raw["status"]
    assert order.revision == raw["revision"]
    assert order.total_to_pay.amount == Decimal(raw["summary"]["totalToPay"]["amount"])
    assert order.total_to_pay.currency == raw["summary"]["totalToPay"]["currency"]
    assert len(order.line_items) == len(raw["lineItems"])
    fulfillment = raw.get("fulfillment") or {}
    assert order.fulfillment_status == fulfillment.get("status")


async def test_search_pages_through_every_checkout_form(sandbox: Sandbox) -> None:
    sandbox.state.script_mixed_lifecycles(30, seed=5)
    seen: list[str] = []

    async with sandbox.client() as client:
        offset, total = 0, None
        while total is None or offset < total:
            page = await client.forms.search(CheckoutFormQuery(offset=offset, limit=7))
            total = page.total_count
            for item in page.items:
                assert isinstance(item, OrderSnapshot), item
                seen.append(item.id)
            offset += 7
        ready = await client.forms.search(CheckoutFormQuery(status="READY_FOR_PROCESSING"))

    assert sorted(seen) == sorted(sandbox.state.order_ids())
    assert ready.items
    assert all(
        isinstance(i, OrderSnapshot) and i.status == "READY_FOR_PROCESSING" for i in ready.items
    )


async def test_search_filters_are_accepted_by_the_simulator(sandbox: Sandbox) -> None:
    oid = sandbox.state.place_order()
    sandbox.state.pay(oid)
    async with sandbox.client() as client:
        order = await client.forms.get(oid)
        assert order.ordered_at is not None
        page = await client.forms.search(
            CheckoutFormQuery(
                bought_at_gte=order.ordered_at,
                bought_at_lte=order.ordered_at,
                fulfillment_status=order.fulfillment_status,
                order="oldest_first",
            )
        )

    assert [i.id for i in page.items if isinstance(i, OrderSnapshot)] == [oid]


async def test_refresh_tokens_rotate_and_each_pair_is_stored(
    sandbox_factory: SandboxFactory,
) -> None:
    # A client id of this test's own: the simulator listens on a port the kernel picked, which
    # a process left over from an earlier, killed run (a `run --once` still retrying its dead
    # simulator's URL with the default client id) may reach; only our requests are counted.
    client_id = f"rotate-{uuid.uuid4().hex[:12]}"
    sandbox = sandbox_factory(access_token_ttl=3600, refresh_grace_seconds=60, client_id=client_id)
    store = MemoryTokenStore()

    async with sandbox.client(store) as client:
        await client.journal.latest_event_id()  # seeds the store from the initial token
        sandbox.time.clock.advance(3600 - 200)  # under five minutes left: refresh again
        await client.journal.latest_event_id()
        sandbox.time.clock.advance(3600 - 200)
        await client.journal.latest_event_id()

    refresh_tokens = [pair.refresh_token for pair in store.saves]
    assert len(refresh_tokens) == 3
    assert len({sandbox.state.initial_refresh_token, *refresh_tokens}) == 4
    token_calls = [
        e
        for e in sandbox.state.request_log
        if e.path == "/auth/oauth/token" and e.client_id == client_id
    ]
    assert [e.status for e in token_calls] == [200, 200, 200]


async def test_a_used_refresh_token_fails_after_the_grace_period(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(refresh_grace_seconds=60)
    async with sandbox.client() as first:
        await first.journal.latest_event_id()  # uses (rotates) the initial refresh token
    sandbox.time.clock.advance(61)

    async with sandbox.client() as second:  # a second store, seeded with the same old token
        with pytest.raises(AllegroAuthError, match="invalid_grant"):
            await second.journal.latest_event_id()


async def test_processes_sharing_a_store_refresh_only_once(sandbox: Sandbox) -> None:
    shared = MemoryTokenStore()
    async with sandbox.client(shared) as one, sandbox.client(shared) as other:
        await one.journal.latest_event_id()
        await other.journal.latest_event_id()  # both now hold the same pair in memory
        sandbox.time.clock.advance(43199 - 200)
        await one.journal.latest_event_id()  # refreshes and stores the new pair
        await other.journal.latest_event_id()  # finds it in the store: no second refresh

    statuses = [(e.path, e.status) for e in sandbox.state.request_log]
    assert statuses.count(("/auth/oauth/token", 200)) == 2
    assert ("/order/event-stats", 401) not in statuses


async def test_a_401_after_another_process_rotated_takes_over_the_stored_pair(
    sandbox: Sandbox,
) -> None:
    shared = MemoryTokenStore()
    ahead = SkewedTime(sandbox.time.clock, skew=43199 - 200)  # thinks the token is expiring
    async with sandbox.client(shared) as one, sandbox.client(shared, time=ahead) as other:
        await one.journal.latest_event_id()
        await other.journal.latest_event_id()  # rotates: Allegro kills the pair `one` holds

        await one.journal.latest_event_id()  # 401, then takes over the stored pair

    statuses = [(e.path, e.status) for e in sandbox.state.request_log]
    assert statuses.count(("/auth/oauth/token", 200)) == 2
    assert statuses[-2:] == [("/order/event-stats", 401), ("/order/event-stats", 200)]


class StoreDown(Exception):
    pass


class UnreliableStore(MemoryTokenStore):
    """Refuses the next `failures` saves; while `gate` is clear, saves wait for it."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.saving = asyncio.Event()
        self.saved = asyncio.Event()

    async def save(self, account: str, pair: TokenPair) -> None:
        self.saving.set()
        await self.gate.wait()
        if self.failures > 0:
            self.failures -= 1
            raise StoreDown("state store unavailable")
        await super().save(account, pair)
        self.saved.set()


async def test_rotated_tokens_survive_a_failing_and_a_cancelled_save(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(refresh_grace_seconds=60)
    store = UnreliableStore()
    store.failures = 3  # down for every attempt of the first use
    async with sandbox.client(store) as client:
        with pytest.raises(StoreDown):
            await client.journal.latest_event_id()  # rotates the initial token, cannot save
        sandbox.time.clock.advance(61)  # the initial refresh token is dead now
        await client.journal.latest_event_id()  # the store is back: saves the kept pair

        sandbox.time.clock.advance(43199 - 200)  # the next use refreshes again
        store.gate.clear()
        store.saving.clear()
        caller = asyncio.create_task(client.journal.latest_event_id())
        await asyncio.wait_for(store.saving.wait(), timeout=5.0)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        store.saved.clear()
        store.gate.set()
        await asyncio.wait_for(store.saved.wait(), timeout=5.0)

        sandbox.time.clock.advance(43199 - 200)
        await client.journal.latest_event_id()  # refreshes with the token saved after cancel

    token_calls = [e.status for e in sandbox.state.request_log if e.path == "/auth/oauth/token"]
    assert token_calls == [200, 200, 200]
    assert len({pair.refresh_token for pair in store.saves}) == 3


async def test_revoked_tokens_tell_the_operator_to_log_in(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        await client.journal.latest_event_id()
        sandbox.state.revoke_tokens()

        with pytest.raises(AllegroAuthError, match="auth login"):
            await client.journal.latest_event_id()


async def test_injected_server_errors_are_retried_until_success(sandbox: Sandbox) -> None:
    sandbox.state.script_mixed_lifecycles(5, seed=1)
    sandbox.state.faults.next_errors = [503, 500]

    async with sandbox.client() as client:
        events = await client.journal.fetch(None, 100)

    assert events
    statuses = [e.status for e in sandbox.state.request_log if e.path == "/order/events"]
    assert statuses == [503, 500, 200]
    assert sandbox.time.sleeps[-2:] == [1.0, 2.0]


async def test_persistent_server_errors_end_as_unavailable(sandbox: Sandbox) -> None:
    sandbox.state.faults.next_errors = [503] * 3

    async with sandbox.client(max_attempts=3) as client:
        with pytest.raises(AllegroUnavailable, match="HTTP 503"):
            await client.journal.latest_event_id()

    statuses = [e.status for e in sandbox.state.request_log if e.path == "/order/event-stats"]
    assert statuses == [503, 503, 503]


async def test_a_429_with_retry_after_is_waited_out(sandbox: Sandbox) -> None:
    sandbox.state.faults.next_errors = [429]
    sandbox.state.faults.retry_after_on_429 = 7

    async with sandbox.client() as client:
        await client.journal.latest_event_id()

    stats = [e for e in sandbox.state.request_log if e.path == "/order/event-stats"]
    assert [e.status for e in stats] == [429, 200]
    assert stats[1].monotonic - stats[0].monotonic >= 7.0


@pytest.mark.parametrize(("client_rate", "expect_429"), [(30, False), (150, True)])
async def test_the_bucket_keeps_the_client_under_allegros_limit(
    sandbox_factory: SandboxFactory, client_rate: int, expect_429: bool
) -> None:
    burst = 3
    # Allegro's judge allows what our bucket may send in any minute at 30/min: burst + 30.
    sandbox = sandbox_factory(rate_limit_per_minute=30 + burst)

    async with sandbox.client(
        rate_limit_per_minute=client_rate, rate_limit_burst=burst, max_attempts=10
    ) as client:
        for _ in range(80):  # over two minutes of traffic at 30/min
            await client.journal.latest_event_id()

    log = sandbox.state.request_log
    rest = [e for e in log if e.path == "/order/event-stats"]
    assert any(e.status == 429 for e in rest) is expect_429
    if not expect_429:
        span = log[-1].monotonic - log[0].monotonic
        assert span > 120
        allowed = burst + client_rate / 60.0 * span + 1  # +1: a reply is logged after it is sent
        assert len(log) <= allowed


async def test_device_flow_login_then_api_access(sandbox: Sandbox) -> None:
    store = MemoryTokenStore()
    flow = DeviceFlow(
        sandbox.config(account="shop"),
        store,
        clock=sandbox.time,
        monotonic=sandbox.time.monotonic,
        sleep=sandbox.time.sleep,
    )
    async with flow:
        authorization = await flow.start()
        waits: list[float] = []

        def approve_on_second_wait(seconds: float) -> None:
            waits.append(seconds)
            if len(waits) == 2:
                sandbox.state.approve_device(authorization.user_code)

        pair = await flow.poll_until_done(authorization, approve_on_second_wait)

    assert store.pairs["shop"] == pair
    async with sandbox.client(store, account="shop", initial_refresh_token=None) as client:
        assert await client.journal.latest_event_id() is None
    assert len(waits) == 2


async def test_search_pages_run_in_the_purchase_time_order_asked_for(sandbox: Sandbox) -> None:
    for minutes in (5, 1, 30, 2, 9):  # purchases minutes apart
        sandbox.time.clock.advance(minutes * 60)
        sandbox.state.pay(sandbox.state.place_order())

    async with sandbox.client() as client:
        oldest = await client.forms.search(CheckoutFormQuery(order="oldest_first"))
        newest = await client.forms.search(CheckoutFormQuery(order="newest_first"))

    def times(page: CheckoutFormPage) -> list[datetime]:
        return [i.ordered_at for i in page.items if isinstance(i, OrderSnapshot) and i.ordered_at]

    assert len(times(oldest)) == len(sandbox.state.order_ids())
    assert len(set(times(oldest))) == len(times(oldest))  # distinct: the order is visible
    assert times(oldest) == sorted(times(oldest))
    assert times(newest) == sorted(times(oldest), reverse=True)
