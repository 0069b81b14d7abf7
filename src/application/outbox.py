"""The transactional outbox both write paths deliver through: stage → send → commit.

A batch is encoded once and staged (durably) with everything its commit writes; then sent;
then committed, and the commit deletes the staged batch in the same transaction (see
`CursorStore.commit`). A crash anywhere in between leaves it staged: the next run of either
path sends it again byte for byte and commits it before it decides anything, because the
decisions it carries were made once, and making them again from checkout forms that moved
meanwhile could differ (a new `OrderImported` for an order already imported, for one).

The journal path stages a batch with the cursor it moves to; a sweep page (reconciliation,
backfill) has no cursor move and is staged without one. The account has one staged slot:
each path re-sends what is staged before it stages anything of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from application.ports.publisher import MessageSender
from application.ports.state import StagedBatch, StagingStore

log = logging.getLogger(__name__)
T = TypeVar("T")


async def uninterrupted(work: Awaitable[T]) -> T:
    """`work`, finished even when the caller is cancelled (a stop): then the cancellation is
    raised once it is done. A publish + commit cut halfway would be re-sent at the next start;
    finishing it is bounded by the broker's and the store's own timeouts. A second
    cancellation (an operator insisting) abandons it: what is staged is re-sent later."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()  # cancelled again: abandoned (what is staged is re-sent later)
            raise
        if not task.cancelled() and task.exception() is not None:
            log.warning(
                "a publish and commit under way failed while stopping",
                extra={"error": repr(task.exception())},
            )
        raise  # the cancellation, whatever the work ended with


class Outbox:
    """One account's outbox: its staged slot in `store`, sent through `sender`. Anything that
    writes effects for the account (the order pipeline, and later command and offer paths)
    delivers through one of these, so a crash between send and commit is always re-sent
    before anything new is decided."""

    def __init__(self, store: StagingStore, sender: MessageSender, account: str) -> None:
        self._store = store
        self._sender = sender
        self.account = account

    async def deliver(self, batch: StagedBatch) -> None:
        """Stage, send and commit `batch` (uninterrupted); a batch with no message is only
        committed."""
        await uninterrupted(self._deliver(batch))

    async def _deliver(self, batch: StagedBatch) -> None:
        if batch.messages:
            await self._store.stage(self.account, batch)
            await self._sender.send(batch.messages)
        await self._commit(batch)

    async def resend_staged(self) -> StagedBatch | None:
        """The batch staged before an interruption, if any, sent again and committed."""
        staged = await self._store.load_staged(self.account)
        if staged is None:
            return None
        log.warning(
            "re-sending a batch staged before an interruption",
            extra={
                "account": self.account,
                "messages": len(staged.messages),
                "moves_cursor": staged.cursor is not None,
            },
        )
        await uninterrupted(self._resend(staged))
        return staged

    async def _resend(self, staged: StagedBatch) -> None:
        await self._sender.send(staged.messages)
        await self._commit(staged)

    async def _commit(self, batch: StagedBatch) -> None:
        await self._store.commit(
            self.account, batch.cursor, batch.records, batch.cleared_failures, batch.quarantined
        )
