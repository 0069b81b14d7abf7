"""SQLite's one writer: `run` waits on standby for the file's lock, one-shot commands don't."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from adapters.persistence import SqliteWriterLock, WriterLockHeld
from entrypoints.health import Role
from entrypoints.single_writer import SingleWriter
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.timeout(30)


class Roles(list[Role]):
    """The roles a writer reported, in order; `changed` is set at each report."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def __call__(self, role: Role) -> None:
        self.append(role)
        self.changed.set()


async def tried(roles: Roles, times: int) -> None:
    """Until the writer has found the lock taken `times` times (it reports standby each time)."""
    async with asyncio.timeout(10):
        while roles.count(Role.STANDBY) < times:
            roles.changed.clear()
            await roles.changed.wait()


def writer(database: Path, roles: Roles, holder: str = "me:1:aa") -> SingleWriter:
    return SingleWriter(
        SqliteWriterLock(database),
        holder=holder,
        clock=FakeClock(),
        on_role=roles,
        retry_every=0.02,
    )


async def test_run_waits_on_standby_while_another_process_writes_then_polls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "state.db"
    backfill = SqliteWriterLock(database)
    await backfill.acquire("other:2:bb", "backfill", FakeClock().now())
    roles = Roles()
    polled = asyncio.Event()

    async def lead(stop: asyncio.Event) -> None:
        polled.set()
        await stop.wait()

    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="entrypoints.single_writer")
    running = asyncio.create_task(writer(database, roles).run(stop, lead))
    await tried(roles, 10)
    assert not polled.is_set()
    assert set(roles) == {Role.STANDBY}
    waiting = [r for r in caplog.records if "another process writes" in r.getMessage()]
    assert len(waiting) == 1  # said once, not at every retry
    assert "other:2:bb (backfill)" in waiting[0].__dict__["holder"]

    await backfill.release()
    await asyncio.wait_for(polled.wait(), timeout=5)
    assert roles[-1] == Role.SINGLE
    info = await SqliteWriterLock(database).holder()
    assert info is not None
    assert (info.holder, info.command) == ("me:1:aa", "run")

    stop.set()
    await asyncio.wait_for(running, timeout=5)
    assert await SqliteWriterLock(database).holder() is None  # released when polling ends


async def test_a_stop_while_waiting_ends_run_without_polling(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    other = SqliteWriterLock(database)
    await other.acquire("other:2:bb", "run", FakeClock().now())
    stop = asyncio.Event()

    async def lead(stop: asyncio.Event) -> None:
        raise AssertionError("must not poll without the lock")

    roles = Roles()
    running = asyncio.create_task(writer(database, roles).run(stop, lead))
    await tried(roles, 2)
    stop.set()

    await asyncio.wait_for(running, timeout=5)
    await other.release()


async def test_the_lock_is_released_when_polling_fails(tmp_path: Path) -> None:
    database = tmp_path / "state.db"

    async def lead(stop: asyncio.Event) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await writer(database, Roles()).run(asyncio.Event(), lead)

    assert await SqliteWriterLock(database).holder() is None


async def test_one_shot_commands_fail_at_once_while_another_process_writes(
    tmp_path: Path,
) -> None:
    database = tmp_path / "state.db"
    service = SqliteWriterLock(database)
    await service.acquire("service:2:bb", "run", FakeClock().now())
    ran: list[str] = []

    async def work(stop: asyncio.Event) -> str:
        ran.append("backfill")
        return "done"

    with pytest.raises(WriterLockHeld, match=r"service:2:bb \(run\)"):
        await writer(database, Roles()).exclusively("backfill", work)
    assert ran == []

    await service.release()
    assert await writer(database, Roles()).exclusively("backfill", work) == "done"
    assert ran == ["backfill"]
    assert await SqliteWriterLock(database).holder() is None


async def test_an_in_memory_database_needs_no_lock() -> None:
    async def work(stop: asyncio.Event) -> str:
        return "done"

    single = SingleWriter(None, holder="me:1:aa", clock=FakeClock())

    assert await single.exclusively("run --once", work) == "done"
