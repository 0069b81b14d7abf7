import asyncio

from application.poll_loop import Backoff, PollLoop
from application.ports import AllegroUnavailable
from application.sync_orders import SyncSettings
from domain.policy import ImportPolicy
from entrypoints.assembly import order_import
from tests.support.builders import make_order_snapshot
from tests.support.fakes import FakeAllegro, FakeClock, InMemoryEventPublisher, MemoryStateStore


def make_loop(
    allegro: FakeAllegro, publisher: InMemoryEventPublisher, batch_size: int = 1000
) -> PollLoop:
    sync = order_import(
        allegro,
        allegro,
        publisher,
        MemoryStateStore(),
        ImportPolicy(account="a"),
        SyncSettings(account="a", start_from="earliest", batch_size=batch_size, pages_per_batch=1),
        FakeClock(),
    ).sync
    return PollLoop(sync, FakeClock(), idle_seconds=15, backoff=Backoff(jitter=lambda: 1.0))


def test_backoff_doubles_and_caps():
    backoff = Backoff(initial=1, maximum=10, jitter=lambda: 1.0)

    assert [backoff.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


async def test_a_full_page_is_followed_immediately_and_idle_waits_the_interval():
    allegro = FakeAllegro()
    for n in range(3):
        allegro.emit("READY_FOR_PROCESSING", make_order_snapshot(id=f"id-{n}"))
    loop = make_loop(allegro, InMemoryEventPublisher(), batch_size=2)

    assert await loop.step() == 0.0
    assert await loop.step() == 15
    assert loop.status.published == 3


async def test_an_outage_backs_off_and_records_the_error():
    allegro = FakeAllegro()
    allegro.emit("READY_FOR_PROCESSING", make_order_snapshot())
    allegro.fail_reads = AllegroUnavailable("timeout")
    loop = make_loop(allegro, InMemoryEventPublisher())

    delays = [await loop.step() for _ in range(3)]

    assert delays == [1, 2, 4]
    assert loop.status.consecutive_failures == 3
    assert loop.status.last_error == "AllegroUnavailable: timeout"
    allegro.fail_reads = None
    assert await loop.step() == 15
    assert loop.status.consecutive_failures == 0


async def test_run_stops_when_asked():
    loop = make_loop(FakeAllegro(), InMemoryEventPublisher())
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await asyncio.sleep(0)

    stop.set()

    await asyncio.wait_for(task, timeout=5)
    assert loop.status.batches >= 1
