"""The fakes' own extras: state that tests read, and an outage switch."""

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
