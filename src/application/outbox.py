"""The transactional outbox both write paths deliver through: stage → send → commit.

A batch is encoded once and staged (durably) with everything its commit writes; then sent;
then committed, and the commit deletes the staged batch in the same transaction (see
`StateStore.commit`). A crash anywhere in between leaves it staged: the next run of either
path sends it again byte for byte and commits it before it decides anything, because the
decisions it carries were made once, and making them again from checkout forms that moved
meanwhile could differ (a new `OrderImported` for an order already imported, for one).

The journal path stages a batch with the cursor it moves to; a sweep page (reconciliation,
backfill) has no cursor move and is staged without one. The account has one staged slot:
each path re-sends what is staged before it stages anything of its own.
"""

from __future__ import annotations

import logging

from application.ports.publisher import EventPublisher
from application.ports.state import StagedBatch, StateStore

log = logging.getLogger(__name__)


async def deliver(
    state: StateStore, publisher: EventPublisher, account: str, batch: StagedBatch
) -> None:
    """Stage, send and commit `batch`; a batch with no message is only committed."""
    if batch.messages:
        await state.stage(account, batch)
        await publisher.send(batch.messages)
    await state.commit(account, batch.cursor, batch.records, batch.cleared_failures)


async def resend_staged(
    state: StateStore, publisher: EventPublisher, account: str
) -> StagedBatch | None:
    """The batch staged before an interruption, if any, sent again and committed."""
    staged = await state.load_staged(account)
    if staged is None:
        return None
    log.warning(
        "re-sending a batch staged before an interruption",
        extra={
            "account": account,
            "messages": len(staged.messages),
            "moves_cursor": staged.cursor is not None,
        },
    )
    await publisher.send(staged.messages)
    await state.commit(account, staged.cursor, staged.records, staged.cleared_failures)
    return staged
