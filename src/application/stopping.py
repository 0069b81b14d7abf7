"""Stopping a loop between two steps, or in the middle of one: the one rule every loop of the
service follows (the poll loop, the command path, both offer paths, the runtime's starts).

A stop cancels the step under way: what it was reading is abandoned and read again at the
next start, while a send + commit already under way inside it completes (`outbox.uninterrupted`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def unless_stopped(
    work: Awaitable[T],
    stop: asyncio.Event,
    *,
    log: logging.Logger | None = None,
    abandoning: str = "stopping: the step under way is abandoned",
) -> T | None:
    """`work`'s result; None when `stop` came first (`work` is then cancelled, and `abandoning`
    logged to `log`). Cancelled from outside (e.g. the lease was lost), `work` is cancelled and
    waited for before the cancellation goes on: nothing is left running detached."""
    running = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        running.cancel()
        with contextlib.suppress(BaseException):
            await running
        raise
    finally:
        stopped.cancel()
    if running.done():
        return running.result()
    if log is not None:
        log.info(abandoning)
    running.cancel()
    try:
        await running
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():  # cancelled ourselves: abandon
            raise
    return None
