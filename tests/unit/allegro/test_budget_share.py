"""One budget, two request classes (issue 15, item 5; adapters/allegro/budget_share.py): the
import and the commands share the client id's per-minute budget, each keeps its minimum share
when both are busy, a class alone gets its cap and no more, and the shipments resource's own
50-a-second cap still applies inside the commands class.

Time is virtual: every sleeper waits until the test's clock reaches its deadline, and the clock
jumps to the next deadline only once every task is waiting, so the send times are what the
limiters chose. Windows are the budget's sliding window (`rate_limit.WINDOW_SECONDS`, the
minute with a second of slack, docs/allegro-api.md, Errors and rate limits)."""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import json
from bisect import bisect_left
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from fractions import Fraction
from typing import Any

import httpx
import pytest

from adapters.allegro import AllegroClient, build_allegro_client
from adapters.allegro.rate_limit import WINDOW_SECONDS

from .builders import FORM_ID, make_checkout_form
from .fakes import VENDOR, FakeTime, MemoryTokenStore, make_config, settle, valid_pair

BUDGET = 150  # requests a minute, the default ALLEGRO_RATE_LIMIT_PER_MINUTE
# The window measured: a departure exactly one window after another may be computed a hair
# (float rounding, below the limiters' 1e-9) early, and still belongs to the next window.
WINDOW = WINDOW_SECONDS - 1e-6
AFTER = 1e-5  # "just after" a send: past the float slack, far below any spacing of sends
FORM_PATH = f"/order/checkout-forms/{FORM_ID}"
ORIGIN = FakeTime().mono  # where the fake monotonic clock starts
# Which class the running task's requests belong to, as the test's workers declare it.
CLASS: contextvars.ContextVar[str] = contextvars.ContextVar("request_class", default="none")


class VirtualTime(FakeTime):
    """Sleepers wait for the clock; `run` moves it to the next deadline when all are idle."""

    def __init__(self) -> None:
        super().__init__()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.mono + seconds, next(self._order), woken))
        await woken

    async def run(self, *work: Coroutine[Any, Any, None], limit: float = 3_600.0) -> None:
        tasks = [asyncio.create_task(one) for one in work]
        try:
            while True:
                await settle()
                if all(task.done() for task in tasks):
                    break
                assert self._sleepers, "every task waits on something other than time"
                deadline = self._sleepers[0][0]
                assert deadline - ORIGIN < limit, "virtual time ran past the test's limit"
                self.advance(max(deadline - self.mono, 0.0))
                while self._sleepers and self._sleepers[0][0] <= self.mono + 1e-9:
                    _, _, woken = heapq.heappop(self._sleepers)
                    woken.set_result(None)
            for task in tasks:
                task.result()  # a failed worker fails the test
        finally:
            for task in tasks:
                task.cancel()


class Recorder:
    """The fake Allegro: answers every request and notes when it left, and for which class."""

    def __init__(self, time: FakeTime) -> None:
        self.time = time
        self.sent: list[tuple[float, str]] = []  # (seconds from the start, class)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((self.time.mono - ORIGIN, CLASS.get()))
        await asyncio.sleep(0)  # let concurrent callers interleave, as over a network
        path = request.url.path
        if request.method == "PUT":
            return httpx.Response(204)
        if path.endswith("/shipments"):
            return vendor(200, {"shipments": []})
        if path == FORM_PATH:
            return vendor(200, make_checkout_form())
        raise AssertionError(f"unexpected request {request.method} {path}")

    def times(self, klass: str | None = None) -> list[float]:
        return sorted(t for t, c in self.sent if klass is None or c == klass)


def vendor(status: int, body: Any) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"Content-Type": VENDOR}
    )


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., tuple[AllegroClient, Recorder, Any]]]:
    clients: list[AllegroClient] = []

    def build(
        time: FakeTime | None = None, **config: Any
    ) -> tuple[AllegroClient, Recorder, FakeTime]:
        time = time or VirtualTime()
        recorder = Recorder(time)
        client = build_allegro_client(
            make_config(**config),
            MemoryTokenStore({"default": valid_pair(time)}),
            transport=httpx.MockTransport(recorder),
            clock=time,
            monotonic=time.monotonic,
            sleep=time.sleep,
            jitter=lambda ceiling: ceiling,
        )
        clients.append(client)
        return client, recorder, time

    yield build
    for client in clients:
        await client.aclose()


async def flood(
    klass: str, call: Callable[[], Awaitable[None]], time: FakeTime, end: float
) -> None:
    """Send requests of `klass` back to back until `end` seconds of virtual time."""
    CLASS.set(klass)  # this task's own context: its requests are recorded as `klass`
    while time.mono - ORIGIN < end:
        await call()


def window_counts(times: list[float], starts: list[float], length: float) -> list[int]:
    """How many of the sorted `times` fall in [start, start + length), for each start."""
    return [bisect_left(times, s + length) - bisect_left(times, s) for s in starts]


def saturated_starts(all_times: list[float], end: float) -> list[float]:
    """Window starts where a class's count is smallest or largest (at 0, at each send and just
    after it), keeping windows that end before the workers stopped: there both were busy."""
    starts = {0.0}
    for t in all_times:
        starts.update((t, t + AFTER))
    return sorted(s for s in starts if s + WINDOW <= end)


def part(share: float, of: int) -> Fraction:
    """`share` of `of` requests, exactly (0.9 x 9000 is 900, not 899.99...)."""
    return Fraction(str(share)) * of


def import_call(client: AllegroClient) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        await client.forms.get(FORM_ID)

    return call


def command_call(client: AllegroClient) -> Callable[[], Awaitable[None]]:
    """A command's requests: it reads the form, then writes its status."""

    async def call() -> None:
        await client.command_forms.get(FORM_ID)
        await client.orders.set_fulfillment_status(FORM_ID, "SENT", None)

    return call


@pytest.mark.parametrize(
    ("import_share", "commands_share", "import_workers", "command_workers"),
    [
        (0.5, 0.2, 2, 8),  # the defaults, a flood of commands
        (0.5, 0.2, 8, 1),  # the defaults, a flood of imports
        (0.7, 0.2, 2, 8),  # the import keeps more than half
        (0.2, 0.7, 8, 2),  # the commands keep more than half
    ],
)
async def test_with_both_classes_busy_each_keeps_its_minimum_share_within_the_budget(
    make_client: Callable[..., tuple[AllegroClient, Recorder, VirtualTime]],
    import_share: float,
    commands_share: float,
    import_workers: int,
    command_workers: int,
) -> None:
    client, recorder, time = make_client(
        rate_limit_per_minute=BUDGET,
        import_min_share=import_share,
        commands_min_share=commands_share,
    )
    end = 4 * WINDOW_SECONDS
    await time.run(
        *(flood("import", import_call(client), time, end) for _ in range(import_workers)),
        *(flood("commands", command_call(client), time, end) for _ in range(command_workers)),
    )

    every = recorder.times()
    starts = saturated_starts(every, end)
    assert len(starts) > 100
    imports = window_counts(recorder.times("import"), starts, WINDOW)
    commands = window_counts(recorder.times("commands"), starts, WINDOW)
    total = window_counts(every, starts, WINDOW)
    assert max(total) <= BUDGET
    assert min(imports) >= part(import_share, BUDGET)
    assert min(commands) >= part(commands_share, BUDGET)
    assert max(imports) <= BUDGET - part(commands_share, BUDGET)
    assert max(commands) <= BUDGET - part(import_share, BUDGET)


@pytest.mark.parametrize("busy", ["import", "commands"])
async def test_a_class_alone_gets_its_cap_and_no_more(
    make_client: Callable[..., tuple[AllegroClient, Recorder, VirtualTime]], busy: str
) -> None:
    """Defaults: the import may take 1 - 0.2 of the budget, the commands 1 - 0.5."""
    client, recorder, time = make_client(rate_limit_per_minute=BUDGET)
    other = {"import": 0.2, "commands": 0.5}[busy]  # the other class's minimum share
    cap = BUDGET - part(other, BUDGET)
    call = import_call(client) if busy == "import" else command_call(client)
    end = 4 * WINDOW_SECONDS
    await time.run(*(flood(busy, call, time, end) for _ in range(4)))

    every = recorder.times()
    counts = window_counts(every, saturated_starts(every, end), WINDOW)
    assert max(counts) == cap  # never more than the cap...
    assert min(counts) == cap  # ...and all of it while the class is busy


async def test_the_shipments_cap_still_applies_inside_the_commands_class(
    make_client: Callable[..., tuple[AllegroClient, Recorder, VirtualTime]],
) -> None:
    """A budget wide open for 50 a second; the commands class may take a tenth of it."""
    client, recorder, time = make_client(
        rate_limit_per_minute=9_000,
        rate_limit_burst=1_000,
        import_min_share=0.9,
        commands_min_share=0.1,
    )

    async def read_shipments() -> None:
        CLASS.set("commands")
        await client.orders.shipments(FORM_ID)

    await time.run(*(read_shipments() for _ in range(1_000)))

    sent = recorder.times()
    assert len(sent) == 1_000
    per_second = window_counts(sent, sent, 1.0)
    per_window = window_counts(sent, sent, WINDOW)
    assert max(per_second) <= 50  # Allegro's cap on the resource
    assert max(per_window) <= 9_000 - part(0.9, 9_000)  # the class's cap in the budget
    assert sent[-1] >= WINDOW_SECONDS  # the last ones waited for the class's window


async def test_each_port_counts_against_its_own_class(
    make_client: Callable[..., tuple[AllegroClient, Recorder, FakeTime]],
) -> None:
    """A budget of 10 a minute: the commands class may send one request a window (its cap,
    1 - 0.9 of 10), while the import may send nine."""
    time = FakeTime()  # sleeping moves the clock at once: one task at a time here
    client, recorder, _ = make_client(
        time, rate_limit_per_minute=10, import_min_share=0.9, commands_min_share=0.1
    )

    await client.forms.get(FORM_ID)
    await client.forms.get(FORM_ID)
    assert time.sleeps == []  # the import has room for both

    await client.command_forms.get(FORM_ID)
    await client.orders.set_fulfillment_status(FORM_ID, "SENT", None)
    # The write waited for the commands class's window, the read's slot to age out of it.
    assert sum(time.sleeps) == pytest.approx(WINDOW_SECONDS)
    await client.orders.shipments(FORM_ID)
    assert sum(time.sleeps) == pytest.approx(2 * WINDOW_SECONDS)
    assert len(recorder.sent) == 5
