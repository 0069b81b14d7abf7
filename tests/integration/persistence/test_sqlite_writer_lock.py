"""The SQLite state file's writer lock: one holder, named; gone with its process."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.persistence import SqliteWriterLock, WriterLockHeld
from application.ports.errors import StateStoreError
from tests.support.fakes import T0

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


async def test_a_second_writer_is_refused_with_the_holders_name(database: Path) -> None:
    first, second = SqliteWriterLock(database), SqliteWriterLock(database)
    await first.acquire("host-a:11:aa", "run", T0)

    with pytest.raises(WriterLockHeld) as refused:
        await second.acquire("host-b:22:bb", "backfill", T0)

    message = str(refused.value)
    assert str(database) + ".lock" in message
    assert "host-a:11:aa (run) since 2026-03-14T09:00:00+00:00" in message
    assert refused.value.info.command == "run"
    assert await second.try_acquire("host-b:22:bb", "backfill", T0) is not None
    assert not second.held
    await first.release()


async def test_holder_names_the_writer_and_nobody_once_it_released(database: Path) -> None:
    lock, observer = SqliteWriterLock(database), SqliteWriterLock(database)
    assert await observer.holder() is None  # no writer ever started: no file either
    assert not lock.path.exists()

    await lock.acquire("host-a:11:aa", "backfill", T0)
    info = await observer.holder()
    assert info is not None
    assert (info.holder, info.command, info.since) == ("host-a:11:aa", "backfill", T0)

    await lock.release()
    assert await observer.holder() is None
    await observer.acquire("host-b:22:bb", "run", T0)  # free for the next writer at once
    assert observer.held
    await observer.release()
    await lock.release()  # a second release changes nothing


async def test_looking_at_the_holder_does_not_take_the_lock(database: Path) -> None:
    lock, observer = SqliteWriterLock(database), SqliteWriterLock(database)
    await lock.acquire("host-a:11:aa", "run", T0)
    await lock.release()

    for _ in range(20):
        assert await observer.holder() is None
    await lock.acquire("host-a:11:aa", "run", T0)
    await lock.release()


async def test_the_first_writer_of_a_new_state_directory_creates_it(tmp_path: Path) -> None:
    database = tmp_path / "var" / "openoms-allegro" / "state.db"
    lock = SqliteWriterLock(database)
    assert await lock.holder() is None

    await lock.acquire("host-a:11:aa", "backfill", T0)

    assert lock.path.parent.is_dir()
    await lock.release()


async def test_one_lock_is_not_taken_twice(database: Path) -> None:
    lock = SqliteWriterLock(database)
    await lock.acquire("host-a:11:aa", "run", T0)

    with pytest.raises(StateStoreError, match="already held by this process"):
        await lock.acquire("host-a:11:aa", "run", T0)
    await lock.release()


@pytest.fixture
def raw_shared_lock(database: Path) -> Iterator[int]:
    """What `holder()` does for an instant: a shared lock with no name in the file."""
    path = database.with_name(database.name + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        yield fd
    finally:
        os.close(fd)


async def test_a_nameless_holder_for_an_instant_is_waited_for(
    database: Path, raw_shared_lock: int
) -> None:
    asyncio.get_running_loop().call_later(0.08, fcntl.flock, raw_shared_lock, fcntl.LOCK_UN)
    lock = SqliteWriterLock(database)

    await lock.acquire("host-a:11:aa", "backfill", T0)

    assert lock.held
    await lock.release()


async def test_a_nameless_holder_that_stays_is_reported(
    database: Path, raw_shared_lock: int
) -> None:
    with pytest.raises(WriterLockHeld, match="a process that has not written its name yet"):
        await SqliteWriterLock(database).acquire("host-a:11:aa", "backfill", T0)


HOLD = """
import asyncio, sys
from datetime import datetime, UTC
from pathlib import Path
from adapters.persistence import SqliteWriterLock

async def main():
    await SqliteWriterLock(Path(sys.argv[1])).acquire("killed:1:x", "run", datetime.now(UTC))
    print("held", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_a_killed_holder_frees_the_lock_at_once(database: Path) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLD,
        str(database),
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), timeout=30)
        assert line.strip() == b"held"
        lock = SqliteWriterLock(database)
        info = await lock.holder()
        assert info is not None
        assert info.holder == "killed:1:x"
        with pytest.raises(WriterLockHeld):
            await lock.acquire("next:2:y", "run", T0)

        child.kill()
        await asyncio.wait_for(child.wait(), timeout=10)

        await lock.acquire("next:2:y", "run", T0)  # no expiry to wait out
        info = await SqliteWriterLock(database).holder()
        assert info is not None
        assert info.holder == "next:2:y"
        await lock.release()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
