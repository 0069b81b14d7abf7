"""What the operator's commands that change state share (`cursor set|reset`, `dead-letters
retry|clear`): they run as the account's only writer and refuse AT ONCE while another
process writes, rather than waiting for it.

SQLite: the state file's writer lock is taken or refused at once (`SingleWriter`). PostgreSQL:
the lease is asked for once (`LEASE_WAIT_SECONDS` is taken as 0 for these commands): a
running service renews its lease for as long as it runs, so waiting for it would only delay
the same refusal. Stop the service (every replica) first; move the cursor; start it again.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

from entrypoints.service import exclusively
from entrypoints.settings import Settings
from entrypoints.wiring import Wired, opened

T = TypeVar("T")


def actor() -> str:
    """Who asked, for the log: the OS user at this host (a container may have no user name)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a bare container
        user = "unknown user"
    return f"{user}@{socket.gethostname()}"


async def as_only_writer(
    settings: Settings, command: str, work: Callable[[Wired], Awaitable[T]]
) -> T:
    """`work(wired)` while this process is the account's only writer, or the writer
    lock's / lease's one-line refusal naming who holds it (a PortError: exit 1)."""
    at_once = settings.model_copy(update={"lease_wait_seconds": 0.0})
    async with opened(at_once) as wired:

        async def lead(_: asyncio.Event) -> T:
            return await work(wired)

        return await exclusively(wired, command, lead)


async def reading(settings: Settings, work: Callable[[Wired], Awaitable[T]]) -> T:
    """`work(wired)` on stores that create, migrate and lock nothing (a missing state is
    one StateStoreError naming STATE_URL)."""
    async with opened(settings, read_only=True) as wired:
        return await work(wired)
