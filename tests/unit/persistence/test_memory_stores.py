"""The fakes' own extras: state that tests read (saves, commits) and an outage switch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.persistence import MemoryStateStore, MemoryTokenStore
from application.ports.errors import StateStoreError
from application.ports.state import Cursor, TokenPair
from domain.mapping import StatusTriple
from domain.policy import OrderRecord
from domain.statuses import OrderStatus, PaymentStatus

RECORD = OrderRecord("cf-1", "rev-1", StatusTriple(OrderStatus.NEW, PaymentStatus.PAID, None))


async def test_the_state_store_exposes_what_it_holds() -> None:
    store = MemoryStateStore()
    await store.record_failure("shop", "cf-2", "boom")

    await store.commit("shop", Cursor("7"), [RECORD])

    assert store.cursors == {"shop": Cursor("7")}
    assert store.records == {"shop": {"cf-1": RECORD}}
    assert store.failures == {"shop": {"cf-2": 1}}
    assert store.last_errors == {"shop": {"cf-2": "boom"}}


async def test_fail_with_makes_every_state_call_raise_and_change_nothing() -> None:
    store = MemoryStateStore()
    store.fail_with = StateStoreError("disk full")

    with pytest.raises(StateStoreError, match="disk full"):
        await store.commit("shop", Cursor("7"), [RECORD])
    with pytest.raises(StateStoreError, match="disk full"):
        await store.load_cursor("shop")
    with pytest.raises(StateStoreError, match="disk full"):
        await store.record_failure("shop", "cf-1", "x")

    assert store.cursors == {}
    assert store.records == {}


async def test_fail_with_makes_every_token_call_raise() -> None:
    store = MemoryTokenStore()
    store.fail_with = StateStoreError("down")
    pair = TokenPair("a", "r", datetime(2030, 1, 1, tzinfo=UTC))

    with pytest.raises(StateStoreError, match="down"):
        await store.save("shop", pair)
    with pytest.raises(StateStoreError, match="down"):
        await store.load("shop")

    assert store.pairs == {}


async def test_the_token_store_starts_from_given_pairs_and_lists_every_save_in_order() -> None:
    first = TokenPair("a-0", "r-0", datetime(2030, 1, 1, tzinfo=UTC))
    second = TokenPair("a-1", "r-1", datetime(2030, 1, 2, tzinfo=UTC))
    store = MemoryTokenStore({"shop": first})

    assert await store.load("shop") == first
    await store.save("shop", second)
    await store.save("other", first)

    assert store.saves == [second, first]  # each rotation, not only the last pair
    assert store.pairs == {"shop": second, "other": first}


async def test_commits_counts_the_transactions_that_took_effect() -> None:
    store = MemoryStateStore()
    await store.commit("shop", Cursor("7"), [RECORD])
    await store.commit("shop", None, [RECORD])
    with pytest.raises(StateStoreError):
        await store.commit("", Cursor("8"))  # refused: nothing took effect

    assert store.commits == 2
