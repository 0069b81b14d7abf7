"""One writer per SQLite state file: an exclusive `flock` on `<file>.lock` beside it.

PostgreSQL deployments elect their writer with a lease (`postgres_lease`). A SQLite file
lives on one host, so the kernel's file lock does the same job: `run`, `run --once` and
`backfill` hold it for as long as they may write the cursor and the order records, and a
second writer on the same file waits (`run`) or fails at once (one-shot commands) instead
of interleaving its batches with the first one's. The lock belongs to the open file, so
it is gone the moment its process ends, SIGKILL included: there is no expiry to wait out.

The file also says who holds the lock (host, process id, command, since when), for
`openoms-allegro status` and for the error a second writer gets. The file is never
deleted (a process could be holding the old one while another creates a new one).
`flock` is shared by every process of one kernel (containers on one host included), not
by hosts sharing a network file system: keep a SQLite state file on local storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adapters.persistence.sqlite_database import make_private_directory_of
from adapters.persistence.url import SqliteLocation
from application.ports.errors import StateStoreError

LOCK_SUFFIX = ".lock"
_READ_LIMIT = 4096
_NAMELESS_RETRIES = 5
_NAMELESS_WAIT_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class WriterInfo:
    """Who holds a state file's writer lock, as its holder recorded it (None: not known,
    e.g. a holder that has just taken the lock and not yet written its name)."""

    holder: str | None
    command: str | None
    since: datetime | None

    def describe(self) -> str:
        who = self.holder or "a process that has not written its name yet"
        what = f" ({self.command})" if self.command else ""
        when = f" since {self.since.isoformat(timespec='seconds')}" if self.since else ""
        return f"{who}{what}{when}"


class WriterLockHeld(StateStoreError):
    """Another process writes to this SQLite state file."""

    def __init__(self, path: Path, info: WriterInfo) -> None:
        super().__init__(
            f"another openoms-allegro process writes to {path}: {info.describe()}; "
            "stop it first (one SQLite file has one writer), or retry when it is done"
        )
        self.info = info


class SqliteWriterLock:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + LOCK_SUFFIX)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    async def acquire(self, holder: str, command: str, now: datetime) -> None:
        """Takes the lock or raises `WriterLockHeld` (with who holds it), without waiting
        for a holder that has named itself. A nameless one may be `holder()` looking for an
        instant, or a writer that is starting: that is asked again a few times first."""
        for attempt in range(_NAMELESS_RETRIES + 1):
            info = await self.try_acquire(holder, command, now)
            if info is None:
                return
            if info.holder is not None or attempt == _NAMELESS_RETRIES:
                raise WriterLockHeld(self.path, info)
            await asyncio.sleep(_NAMELESS_WAIT_SECONDS)

    async def try_acquire(self, holder: str, command: str, now: datetime) -> WriterInfo | None:
        """Takes the lock (None), or says who holds it; never waits."""
        return await asyncio.to_thread(self._try_acquire, holder, command, now)

    async def release(self) -> None:
        await asyncio.to_thread(self._release)

    async def holder(self) -> WriterInfo | None:
        """Who holds the lock now, or None when nobody does. Reads only: takes a shared
        lock for an instant to tell a live holder from a file left by a finished one."""
        return await asyncio.to_thread(self._holder)

    def _try_acquire(self, holder: str, command: str, now: datetime) -> WriterInfo | None:
        if self._fd is not None:
            raise StateStoreError(f"{self.path} is already held by this process")
        make_private_directory_of(self.path)  # a writer may come first to a new state directory
        fd = self._open(os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read_info(fd)
            os.close(fd)
            return info
        except OSError as exc:
            os.close(fd)
            raise StateStoreError(f"cannot lock {self.path}: {exc}") from exc
        try:
            record = {"holder": holder, "command": command, "since": now.isoformat()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
        except OSError as exc:
            os.close(fd)  # closing the file releases the lock
            raise StateStoreError(f"cannot write {self.path}: {exc}") from exc
        self._fd = fd
        return None

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # a file with no name in it is held by nobody
        os.close(fd)  # releases the lock

    def _holder(self) -> WriterInfo | None:
        try:
            fd = self._open(os.O_RDONLY)
        except StateStoreError:
            if not self.path.exists():
                return None  # no writer ever started on this file
            raise
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_info(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def _open(self, flags: int) -> int:
        try:
            return os.open(self.path, flags | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateStoreError(f"cannot open {self.path}: {exc}") from exc


def _read_info(fd: int) -> WriterInfo:
    try:
        record = json.loads(os.pread(fd, _READ_LIMIT, 0) or b"{}")
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict):
        record = {}
    since: datetime | None
    try:
        since = datetime.fromisoformat(record["since"])
    except (KeyError, TypeError, ValueError):
        since = None
    return WriterInfo(_text(record.get("holder")), _text(record.get("command")), since)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


async def sqlite_writer_lock_resource(
    location: SqliteLocation,
) -> AsyncIterator[SqliteWriterLock | None]:
    """For `providers.Resource`: the lock of a SQLite file (None for an in-memory database,
    which no other process can see); released on shutdown if it was taken."""
    if location.path is None:
        yield None
        return
    lock = SqliteWriterLock(location.path)
    try:
        yield lock
    finally:
        await lock.release()
