"""In memory: the one fake of `OfferStore` (tests read its state directly), and the reference
for the SQL stores, which pass the same contract suite
(tests/contract/test_offer_store_contract.py).

Set `fail_with` to make every call raise it, e.g. `StateStoreError("disk full")`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from adapters.persistence.rows import require_aware
from application.ports.errors import StateStoreError
from application.ports.offers import OfferCursor, OfferRound, OfferStore, StagedOffers
from domain.offers import OfferRecord


class MemoryOfferStore(OfferStore):
    def __init__(self) -> None:
        self.cursors: dict[str, OfferCursor] = {}
        self.records: dict[str, dict[str, OfferRecord]] = {}  # account -> offer id -> record
        self.staged: dict[str, StagedOffers] = {}
        self.rounds: dict[str, tuple[OfferRound, bool]] = {}
        self.ended: dict[str, set[str]] = {}  # offers the service ended, per account
        self.fail_with: Exception | None = None

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    async def load_offer_cursor(self, account: str) -> OfferCursor | None:
        self._check()
        return self.cursors.get(account)

    async def load_offer_records(
        self, account: str, offer_ids: Collection[str]
    ) -> Mapping[str, OfferRecord]:
        self._check()
        kept = self.records.get(account, {})
        return {offer_id: kept[offer_id] for offer_id in offer_ids if offer_id in kept}

    async def stage_offers(self, account: str, batch: StagedOffers) -> None:
        self._check()
        if batch.cursor is not None:
            require_aware(batch.cursor.read_at)
        self.staged[account] = batch

    async def load_staged_offers(self, account: str) -> StagedOffers | None:
        self._check()
        return self.staged.get(account)

    async def commit_offers(
        self, account: str, cursor: OfferCursor | None, records: Sequence[OfferRecord]
    ) -> None:
        self._check()
        if cursor is not None:
            require_aware(cursor.read_at)
            if cursor.position == "":
                raise StateStoreError("an offer cursor position must not be empty")
        if any(not record.offer_id for record in records):
            raise StateStoreError("an offer record needs an offer id")
        # all or nothing: everything is checked above, written below
        kept = {**self.records.get(account, {}), **{r.offer_id: r for r in records}}
        if cursor is not None:
            self.cursors[account] = cursor
        self.records[account] = kept
        self.staged.pop(account, None)

    async def stage_round(self, account: str, offer_round: OfferRound) -> None:
        self._check()
        for request in offer_round.requests:
            require_aware(request.at)
        self.rounds[account] = (offer_round, False)

    async def load_round(self, account: str) -> tuple[OfferRound, bool] | None:
        self._check()
        return self.rounds.get(account)

    async def finish_round(
        self, account: str, ended: Collection[str], reactivated: Collection[str]
    ) -> None:
        self._check()
        staged = self.rounds.get(account)
        if staged is None:
            raise ValueError(f"no offer round is staged for account {account!r}")
        kept = (self.ended.get(account, set()) - set(reactivated)) | set(ended)
        self.rounds[account] = (staged[0], True)
        self.ended[account] = kept

    async def ended_by_service(self, account: str, offer_ids: Collection[str]) -> set[str]:
        self._check()
        return self.ended.get(account, set()) & set(offer_ids)
