"""One behaviour, every OfferStore: in-memory, SQLite (a file), PostgreSQL (a schema)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from psycopg import sql

from adapters.persistence import PostgresLocation, SqliteLocation
from adapters.persistence.memory_offer_store import MemoryOfferStore
from adapters.persistence.postgres_offer_store import PostgresOfferStore
from adapters.persistence.sqlite_offer_store import SqliteOfferStore
from application.ports.commands import Position
from application.ports.errors import StateStoreError
from application.ports.offers import (
    FailedTask,
    Failure,
    OfferCursor,
    OfferRound,
    OfferStore,
    RoundOutcome,
    StagedOffers,
)
from application.ports.publisher import DEAD_LETTERS, OFFERS, OutboundMessage
from domain.money import Money
from domain.offers import (
    BatchCommand,
    BatchKind,
    OfferRecord,
    OfferRequest,
    PublicationAction,
    SetPrice,
    SetStock,
)
from tests.integration.persistence.backends import (
    DURABLE_KINDS,
    KINDS,
    Backend,
    open_backend,
    pg_execute,
)

ACCOUNT = "shop-a"
OTHER_ACCOUNT = "shop-b"
READ_AT = datetime(2026, 3, 14, 9, 30, 15, 123456, tzinfo=UTC)
WARSAW = timezone(timedelta(hours=2))
EVERY_BYTE = bytes(range(256))


# --- builders ------------------------------------------------------------------------------


def make_record(
    offer_id: str = "17034458812",
    values: str = "1|SKU-1|5|ACTIVE|allegro-pl=12.5 PLN",
    ended_by: str | None = None,
    publication_status: str = "ACTIVE",
) -> OfferRecord:
    return OfferRecord(offer_id, values, ended_by, publication_status)


STAGED_CURSOR = OfferCursor("event-300", READ_AT)


def make_staged(cursor: OfferCursor | None = STAGED_CURSOR, tag: bytes = b"") -> StagedOffers:
    return StagedOffers(
        cursor=cursor,
        records=(
            make_record("1001"),
            make_record("1002", "1||||", ended_by="EMPTY_STOCK", publication_status="ENDED"),
        ),
        messages=(
            OutboundMessage(
                OFFERS,
                b"1001" + tag,
                EVERY_BYTE + tag,
                (("ce_type", b"openoms.offer.changed.v1"), ("binary", EVERY_BYTE[::-1])),
            ),
            OutboundMessage(OFFERS, b"", b"", ()),
            OutboundMessage(DEAD_LETTERS, EVERY_BYTE, b'{"j": "\\u0000"}', (("zażółć", b"\x00"),)),
        ),
    )


def command_id(*parts: object) -> uuid.UUID:
    """The same builder call gives the same command (a round compares equal to itself)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "|".join(map(str, parts)))


def stock(sku: str, available: int, at: datetime) -> OfferRequest:
    command = SetStock(command_id(sku, available), ACCOUNT, sku, available)
    return OfferRequest(command, at)


def price(sku: str, amount: str, marketplace: str | None, at: datetime) -> OfferRequest:
    money = Money(Decimal(amount), "PLN")
    command = SetPrice(command_id(sku, amount), ACCOUNT, sku, money, marketplace)
    return OfferRequest(command, at)


def make_outcome(round_key: str) -> RoundOutcome:
    """Re-activations and failed tasks: with and without a code, Allegro's words as they came
    (any character, up to the bound), a command refused for every offer."""
    activate = BatchCommand.build(
        ACCOUNT, round_key, BatchKind.PUBLICATION, ["1002"], action=PublicationAction.ACTIVATE
    )
    refused = command_id("refused", round_key)
    return RoundOutcome(
        activations=(activate,),
        failed=(
            FailedTask(activate.command_id, "1002", Failure("Oferta zakończona: \u0000 ✓", None)),
            FailedTask(refused, "1003", Failure("x" * 512, "VALIDATION_ERROR")),
            FailedTask(refused, "1001", Failure("x" * 512, "VALIDATION_ERROR")),
        ),
    )


def make_round(round_key: str = "p0:10-14,p3:7-7", with_outcome: bool = True) -> OfferRound:
    """Every shape a round holds: both commands (a price with and without a marketplace, an
    amount whose text has a trailing zero), times with and without a UTC offset, every kind
    of batch command, the answered map, an outcome (`make_outcome`) unless not `with_outcome`."""
    build = BatchCommand.build
    return OfferRound(
        round_key=round_key,
        covers=(Position(0, 14), Position(3, 7)),
        requests=(
            stock("SKU-1", 0, READ_AT),
            stock("SKU-2", 7, READ_AT.astimezone(WARSAW)),
            price("SKU-2", "12.50", None, READ_AT),
            price("SKU-3", "1E+2", "allegro-cz", READ_AT + timedelta(microseconds=1)),
        ),
        offers_by_sku=(("SKU-1", ("1001",)), ("SKU-2", ("1002", "1003")), ("SKU-3", ())),
        commands=(
            build(ACCOUNT, round_key, BatchKind.QUANTITY, ["1003", "1002"], quantity=7),
            build(
                ACCOUNT,
                round_key,
                BatchKind.PRICE,
                ["1002", "1003"],
                price=Money(Decimal("12.50"), "PLN"),
            ),
            build(
                ACCOUNT,
                round_key,
                BatchKind.PRICE,
                [str(n) for n in range(1, 1001)],
                price=Money(Decimal("100"), "CZK"),
                marketplace="allegro-cz",
            ),
            build(
                ACCOUNT, round_key, BatchKind.PUBLICATION, ["1001"], action=PublicationAction.END
            ),
        ),
        reactivate=("1002",),
        answered=(Position(0, 9), Position(5, 2)),
        outcome=make_outcome(round_key) if with_outcome else None,
    )


class Exploding(list[str]):
    """Yields its ids, then raises: a fault in the middle of a write."""

    def __iter__(self) -> Iterator[str]:
        yield from super().__iter__()
        raise RuntimeError("fault in the middle of the write")


class ExplodingRecords(list[OfferRecord]):
    def __iter__(self) -> Iterator[OfferRecord]:
        yield from super().__iter__()
        raise RuntimeError("fault in the middle of the commit")


# --- fixtures: the stores, and the tables under them ---------------------------------------


class Stores:
    """Opens offer stores on one backend; each is closed when the test ends."""

    def __init__(self, backend: Backend, stack: AsyncExitStack) -> None:
        self.backend = backend
        self._stack = stack
        self._memory = MemoryOfferStore()

    async def open(self) -> OfferStore:
        """A new store on the same state (the memory one is the same store: it has no other)."""
        location = self.backend.location
        if location is None:
            return self._memory
        store: SqliteOfferStore | PostgresOfferStore
        if isinstance(location, SqliteLocation):
            store = await SqliteOfferStore.open(location.path)
        else:
            assert isinstance(location, PostgresLocation)
            store = await PostgresOfferStore.open(location)
        return await self._stack.enter_async_context(store)

    async def update_payload(self, table: str, payload: str) -> None:
        """Writes a row's payload around the adapters, as a corruption would."""
        location = self.backend.location
        if isinstance(location, SqliteLocation):
            assert location.path is not None
            async with aiosqlite.connect(location.path) as connection:
                await connection.execute(
                    f"UPDATE {table} SET payload = ? WHERE account = ?",  # noqa: S608 - ours
                    (payload, ACCOUNT),
                )
                await connection.commit()
            return
        assert isinstance(location, PostgresLocation)
        statement = sql.SQL("UPDATE {} SET payload = %s WHERE account = %s").format(
            sql.Identifier(location.schema, table)
        )
        await pg_execute(statement, (payload, ACCOUNT))


@pytest.fixture(params=KINDS)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    async with open_backend(request.param, tmp_path) as backend, AsyncExitStack() as stack:
        yield Stores(backend, stack)


@pytest.fixture(params=DURABLE_KINDS)
async def durable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    async with open_backend(request.param, tmp_path) as backend, AsyncExitStack() as stack:
        yield Stores(backend, stack)


@pytest.fixture
async def store(stores: Stores) -> OfferStore:
    return await stores.open()


@pytest.fixture
async def durable_store(durable: Stores) -> OfferStore:
    return await durable.open()


# --- offer events out: cursor, records, staged batch ---------------------------------------


async def test_nothing_is_known_before_the_first_write(store: OfferStore) -> None:
    assert await store.load_offer_cursor(ACCOUNT) is None
    assert dict(await store.load_offer_records(ACCOUNT, ["1001"])) == {}
    assert await store.load_staged_offers(ACCOUNT) is None
    assert await store.load_round(ACCOUNT) is None
    assert await store.ended_by_service(ACCOUNT, ["1001"]) == set()


async def test_a_null_cursor_is_stored_and_differs_from_no_cursor(store: OfferStore) -> None:
    await store.commit_offers(ACCOUNT, OfferCursor(None, READ_AT), [])

    assert await store.load_offer_cursor(ACCOUNT) == OfferCursor(None, READ_AT)


async def test_commit_replaces_the_cursor_and_its_read_time(store: OfferStore) -> None:
    await store.commit_offers(ACCOUNT, OfferCursor("event-1", READ_AT), [])
    later = READ_AT.astimezone(WARSAW) + timedelta(hours=1, microseconds=7)

    await store.commit_offers(ACCOUNT, OfferCursor("event-2", later), [])

    loaded = await store.load_offer_cursor(ACCOUNT)
    assert loaded == OfferCursor("event-2", later)
    assert loaded is not None
    assert loaded.read_at.utcoffset() is not None  # timezone-aware


async def test_a_commit_without_a_cursor_keeps_the_stored_one(store: OfferStore) -> None:
    await store.commit_offers(ACCOUNT, OfferCursor("event-1", READ_AT), [])

    await store.commit_offers(ACCOUNT, None, [make_record("1001")])

    assert await store.load_offer_cursor(ACCOUNT) == OfferCursor("event-1", READ_AT)
    assert set(await store.load_offer_records(ACCOUNT, ["1001"])) == {"1001"}


async def test_a_commit_without_a_cursor_creates_none(store: OfferStore) -> None:
    await store.commit_offers(ACCOUNT, None, [make_record("1001")])

    assert await store.load_offer_cursor(ACCOUNT) is None


async def test_load_offer_records_returns_only_the_known_ids_asked_for(store: OfferStore) -> None:
    first = make_record("1001")
    ended = make_record(
        "1002", "1|SKU-2||ENDED|", ended_by="EMPTY_STOCK", publication_status="ENDED"
    )
    await store.commit_offers(ACCOUNT, None, [first, ended, make_record("1003")])

    loaded = await store.load_offer_records(ACCOUNT, ["1001", "1002", "9999"])

    assert dict(loaded) == {"1001": first, "1002": ended}
    assert dict(await store.load_offer_records(ACCOUNT, [])) == {}


async def test_records_are_upserted_by_offer_id(store: OfferStore) -> None:
    await store.commit_offers(ACCOUNT, None, [make_record("1001")])
    ended = make_record("1001", "1|SKU-1|0|ENDED|", "USER", "ENDED")

    await store.commit_offers(ACCOUNT, None, [ended])

    assert dict(await store.load_offer_records(ACCOUNT, {"1001"})) == {"1001": ended}


async def test_many_offer_ids_load_in_one_call(store: OfferStore) -> None:
    await store.commit_offers(ACCOUNT, None, [make_record(str(n)) for n in range(3000)])

    loaded = await store.load_offer_records(ACCOUNT, [str(n) for n in range(0, 6000, 2)])

    assert set(loaded) == {str(n) for n in range(0, 3000, 2)}


async def test_a_staged_batch_round_trips_exactly(store: OfferStore) -> None:
    await store.stage_offers(ACCOUNT, make_staged())

    assert await store.load_staged_offers(ACCOUNT) == make_staged()


async def test_a_sweep_page_is_staged_without_a_cursor(store: OfferStore) -> None:
    await store.stage_offers(ACCOUNT, make_staged(cursor=None))

    assert await store.load_staged_offers(ACCOUNT) == make_staged(cursor=None)


async def test_staging_replaces_the_staged_batch(store: OfferStore) -> None:
    await store.stage_offers(ACCOUNT, make_staged(tag=b"-first"))

    await store.stage_offers(ACCOUNT, make_staged(tag=b"-second"))

    assert await store.load_staged_offers(ACCOUNT) == make_staged(tag=b"-second")


@pytest.mark.parametrize("cursor", [STAGED_CURSOR, None])
async def test_the_commit_of_a_staged_batch_deletes_it(
    store: OfferStore, cursor: OfferCursor | None
) -> None:
    batch = make_staged(cursor=cursor)
    await store.stage_offers(ACCOUNT, batch)

    await store.commit_offers(ACCOUNT, batch.cursor, batch.records)

    assert await store.load_staged_offers(ACCOUNT) is None
    assert dict(await store.load_offer_records(ACCOUNT, ["1001", "1002"])) == {
        record.offer_id: record for record in batch.records
    }
    assert await store.load_offer_cursor(ACCOUNT) == cursor


async def test_a_naive_read_time_is_refused(store: OfferStore) -> None:
    naive = OfferCursor("event-1", READ_AT.replace(tzinfo=None))

    with pytest.raises(ValueError, match="timezone-aware"):
        await store.stage_offers(ACCOUNT, make_staged(cursor=naive))
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.commit_offers(ACCOUNT, naive, [make_record("1001")])

    assert await store.load_staged_offers(ACCOUNT) is None
    assert await store.load_offer_cursor(ACCOUNT) is None
    assert dict(await store.load_offer_records(ACCOUNT, ["1001"])) == {}


# --- inventory in: the round and the offers the service ended ------------------------------


async def test_a_staged_round_round_trips_exactly_and_is_not_done(store: OfferStore) -> None:
    await store.stage_round(ACCOUNT, make_round())

    loaded = await store.load_round(ACCOUNT)

    assert loaded == (make_round(), False)
    assert loaded is not None
    offer_round = loaded[0]
    # What re-encodes the round's results and commands byte for byte, beyond `==`: the
    # amount's text and each time's own UTC offset.
    assert [str(r.command.price.amount) for r in offer_round.requests[2:]] == ["12.50", "1E+2"]  # type: ignore[union-attr]
    assert [r.at.isoformat() for r in offer_round.requests] == [
        r.at.isoformat() for r in make_round().requests
    ]
    assert str(offer_round.commands[1].price.amount) == "12.50"  # type: ignore[union-attr]


async def test_a_round_staged_again_with_its_outcome_replaces_it_and_is_not_done(
    store: OfferStore,
) -> None:
    await store.stage_round(ACCOUNT, make_round(with_outcome=False))
    assert await store.load_round(ACCOUNT) == (make_round(with_outcome=False), False)

    await store.stage_round(ACCOUNT, make_round())

    assert await store.load_round(ACCOUNT) == (make_round(), False)
    await store.finish_round(ACCOUNT, ended=[], reactivated=[])
    assert await store.load_round(ACCOUNT) == (make_round(), True)


async def test_finish_round_marks_it_done_and_keeps_it(store: OfferStore) -> None:
    await store.stage_round(ACCOUNT, make_round())

    await store.finish_round(ACCOUNT, ended=["1001"], reactivated=[])

    assert await store.load_round(ACCOUNT) == (make_round(), True)
    assert await store.ended_by_service(ACCOUNT, ["1001", "1002"]) == {"1001"}


async def test_staging_a_round_replaces_a_done_one_and_is_not_done(store: OfferStore) -> None:
    await store.stage_round(ACCOUNT, make_round("p0:1-1"))
    await store.finish_round(ACCOUNT, ended=[], reactivated=[])

    await store.stage_round(ACCOUNT, make_round("p0:2-9"))

    assert await store.load_round(ACCOUNT) == (make_round("p0:2-9"), False)


async def test_finish_round_forgets_the_reactivated_and_remembers_the_ended(
    store: OfferStore,
) -> None:
    await store.stage_round(ACCOUNT, make_round("p0:1-1"))
    await store.finish_round(ACCOUNT, ended=["1001", "1002", "1003"], reactivated=[])
    await store.stage_round(ACCOUNT, make_round("p0:2-2"))

    # 1004 is both: ended last, as the memory store decides.
    await store.finish_round(ACCOUNT, ended=["1004", "1004"], reactivated=["1002", "1004", "77"])

    asked = ["1001", "1002", "1003", "1004", "1005"]
    assert await store.ended_by_service(ACCOUNT, asked) == {"1001", "1003", "1004"}
    assert await store.ended_by_service(ACCOUNT, ["1003"]) == {"1003"}
    assert await store.ended_by_service(ACCOUNT, []) == set()


async def test_finish_round_without_a_round_fails_and_changes_nothing(store: OfferStore) -> None:
    with pytest.raises(ValueError, match="no offer round"):
        await store.finish_round(ACCOUNT, ended=["1001"], reactivated=[])

    assert await store.load_round(ACCOUNT) is None
    assert await store.ended_by_service(ACCOUNT, ["1001"]) == set()


async def test_accounts_do_not_see_each_other(store: OfferStore) -> None:
    await store.commit_offers(ACCOUNT, OfferCursor("event-1", READ_AT), [make_record("1001")])
    await store.stage_offers(ACCOUNT, make_staged())
    await store.stage_round(ACCOUNT, make_round())
    await store.finish_round(ACCOUNT, ended=["1001"], reactivated=[])

    assert await store.load_offer_cursor(OTHER_ACCOUNT) is None
    assert dict(await store.load_offer_records(OTHER_ACCOUNT, ["1001"])) == {}
    assert await store.load_staged_offers(OTHER_ACCOUNT) is None
    assert await store.load_round(OTHER_ACCOUNT) is None
    assert await store.ended_by_service(OTHER_ACCOUNT, ["1001"]) == set()
    with pytest.raises(ValueError, match="no offer round"):
        await store.finish_round(OTHER_ACCOUNT, ended=[], reactivated=[])

    # The other account's writes leave this one's state as it was.
    await store.stage_round(OTHER_ACCOUNT, make_round("p1:1-1"))
    await store.finish_round(OTHER_ACCOUNT, ended=[], reactivated=["1001"])
    await store.commit_offers(OTHER_ACCOUNT, OfferCursor("event-9", READ_AT), [])

    assert await store.load_staged_offers(ACCOUNT) == make_staged()
    assert await store.ended_by_service(ACCOUNT, ["1001"]) == {"1001"}
    assert await store.load_round(ACCOUNT) == (make_round(), True)
    assert await store.load_offer_cursor(ACCOUNT) == OfferCursor("event-1", READ_AT)


# --- durable stores only: what a crash, a fault or a corruption leaves ---------------------


async def test_everything_survives_a_restart(durable: Stores) -> None:
    store = await durable.open()
    await store.commit_offers(ACCOUNT, OfferCursor("event-1", READ_AT), [make_record("1001")])
    await store.stage_offers(ACCOUNT, make_staged())
    await store.stage_round(ACCOUNT, make_round())
    await store.finish_round(ACCOUNT, ended=["1001"], reactivated=[])
    await durable.backend.close_stores()

    reopened = await durable.open()

    assert await reopened.load_offer_cursor(ACCOUNT) == OfferCursor("event-1", READ_AT)
    assert dict(await reopened.load_offer_records(ACCOUNT, ["1001"])) == {
        "1001": make_record("1001")
    }
    assert await reopened.load_staged_offers(ACCOUNT) == make_staged()
    assert await reopened.load_round(ACCOUNT) == (make_round(), True)
    assert await reopened.ended_by_service(ACCOUNT, ["1001"]) == {"1001"}


async def arrange(store: OfferStore) -> None:
    await store.commit_offers(ACCOUNT, OfferCursor("event-1", READ_AT), [make_record("1001")])
    await store.stage_offers(ACCOUNT, make_staged())
    await store.stage_round(ACCOUNT, make_round())


async def assert_arranged(store: OfferStore) -> None:
    assert await store.load_offer_cursor(ACCOUNT) == OfferCursor("event-1", READ_AT)
    assert dict(await store.load_offer_records(ACCOUNT, ["1001", "1002"])) == {
        "1001": make_record("1001")
    }
    assert await store.load_staged_offers(ACCOUNT) == make_staged()
    assert await store.load_round(ACCOUNT) == (make_round(), False)


async def test_a_fault_in_the_middle_of_a_commit_changes_nothing(durable_store: OfferStore) -> None:
    await arrange(durable_store)
    records = ExplodingRecords([make_record("1001", "1|SKU-1|9|ACTIVE|"), make_record("1002")])

    with pytest.raises(RuntimeError, match="middle of the commit"):
        await durable_store.commit_offers(ACCOUNT, OfferCursor("event-2", READ_AT), records)

    await assert_arranged(durable_store)


@pytest.mark.parametrize(
    "records",
    [[make_record("1001", "changed"), make_record("")]],
    ids=["empty-offer-id"],
)
async def test_a_commit_the_store_refuses_changes_nothing(
    durable_store: OfferStore, records: list[OfferRecord]
) -> None:
    await arrange(durable_store)

    with pytest.raises(StateStoreError, match="offer id"):
        await durable_store.commit_offers(ACCOUNT, OfferCursor("event-2", READ_AT), records)

    await assert_arranged(durable_store)


async def test_an_empty_cursor_position_is_refused(durable_store: OfferStore) -> None:
    await arrange(durable_store)
    empty = OfferCursor("", READ_AT)

    with pytest.raises(StateStoreError, match="position must not be empty"):
        await durable_store.commit_offers(ACCOUNT, empty, [make_record("1001", "changed")])
    with pytest.raises(StateStoreError, match="position must not be empty"):
        await durable_store.stage_offers(ACCOUNT, make_staged(cursor=empty))

    await assert_arranged(durable_store)


async def test_a_fault_in_the_middle_of_finish_round_changes_nothing(
    durable_store: OfferStore,
) -> None:
    await durable_store.stage_round(ACCOUNT, make_round("p0:1-1"))
    await durable_store.finish_round(ACCOUNT, ended=["1001"], reactivated=[])
    await durable_store.stage_round(ACCOUNT, make_round())

    with pytest.raises(RuntimeError, match="middle of the write"):
        await durable_store.finish_round(ACCOUNT, Exploding(["1002"]), reactivated=["1001"])

    assert await durable_store.load_round(ACCOUNT) == (make_round(), False)
    assert await durable_store.ended_by_service(ACCOUNT, ["1001", "1002"]) == {"1001"}


def corrupt(mutate: Callable[[dict[str, Any]], object]) -> Callable[[str], str]:
    def corrupted(text: str) -> str:
        payload = json.loads(text)
        mutate(payload)
        return json.dumps(payload)

    return corrupted


def _set(path: tuple[str | int, ...], value: object) -> Callable[[str], str]:
    def mutate(payload: Any) -> None:
        for step in path[:-1]:
            payload = payload[step]
        payload[path[-1]] = value

    return corrupt(mutate)


ROUND_CORRUPTIONS = {
    "not-json": lambda _: "{not json",
    "not-an-object": lambda _: "[]",
    "a-later-format": _set(("format",), 3),
    "a-boolean-format": _set(("format",), True),
    "no-round-key": corrupt(lambda p: p.pop("round_key")),
    "format-2-without-answered": corrupt(lambda p: p.pop("answered")),
    "format-2-without-outcome": corrupt(lambda p: p.pop("outcome")),
    "an-answered-negative-offset": _set(("answered", 1, 1), -1),
    "an-outcome-as-a-list": _set(("outcome",), []),
    "an-activation-without-offers": _set(("outcome", "activations", 0, "offer_ids"), []),
    "a-failed-task-of-three-fields": corrupt(lambda p: p["outcome"]["failed"][0].pop()),
    "a-failure-text-over-the-bound": _set(("outcome", "failed", 1, 2), "x" * 513),
    "a-failure-code-as-number": _set(("outcome", "failed", 1, 3), 422),
    "a-failed-task-bad-command-id": _set(("outcome", "failed", 0, 0), "nope"),
    "a-negative-offset": _set(("covers", 0, 1), -1),
    "a-boolean-partition": _set(("covers", 0, 0), True),
    "an-unknown-command-type": _set(("requests", 0, "command", "command_type"), "SetTitle"),
    "a-bad-command-id": _set(("requests", 0, "command", "command_id"), "not-a-uuid"),
    "a-negative-stock": _set(("requests", 0, "command", "available"), -1),
    "an-amount-that-is-no-number": _set(("requests", 2, "command", "amount"), "12,50"),
    "a-naive-time": _set(("requests", 0, "at"), "2026-03-14T09:30:15"),
    "an-empty-sku": _set(("requests", 1, "command", "sku"), ""),
    "an-unknown-batch-kind": _set(("commands", 0, "kind"), "title"),
    "a-quantity-of-zero": _set(("commands", 0, "quantity"), 0),
    "a-quantity-as-text": _set(("commands", 0, "quantity"), "7"),
    "a-batch-without-offers": _set(("commands", 0, "offer_ids"), []),
    "an-unknown-action": _set(("commands", 3, "action"), "DELETE"),
    "an-offer-id-as-number": _set(("reactivate", 0), 1002),
    "a-huge-value": _set(("round_key",), ["x" * 1_000_000]),
}


@pytest.mark.parametrize("corruption", ROUND_CORRUPTIONS.values(), ids=ROUND_CORRUPTIONS.keys())
async def test_a_corrupted_round_is_a_clear_error(
    durable: Stores, corruption: Callable[[str], str]
) -> None:
    store = await durable.open()
    await store.stage_round(ACCOUNT, make_round())
    [row] = await durable.backend.raw_rows("offer_rounds")
    await durable.update_payload("offer_rounds", corruption(row[1]))

    with pytest.raises(StateStoreError, match="offer round") as caught:
        await store.load_round(ACCOUNT)

    assert len(str(caught.value)) < 400  # bounded, whatever the row holds


STAGED_CORRUPTIONS = {
    "not-json": lambda _: "",
    "a-later-format": _set(("format",), 2),
    "a-cursor-without-read-time": corrupt(lambda p: p["cursor"].pop("read_at")),
    "an-empty-position": _set(("cursor", "position"), ""),
    "a-record-of-three-columns": corrupt(lambda p: p["records"][0].pop()),
    "a-null-offer-values": _set(("records", 0, 1), None),
    "bytes-not-in-base64": _set(("messages", 0, "value"), "not base64!"),
    "a-header-without-value": _set(("messages", 0, "headers", 0), ["ce_type"]),
}


@pytest.mark.parametrize("corruption", STAGED_CORRUPTIONS.values(), ids=STAGED_CORRUPTIONS.keys())
async def test_a_corrupted_staged_batch_is_a_clear_error(
    durable: Stores, corruption: Callable[[str], str]
) -> None:
    store = await durable.open()
    await store.stage_offers(ACCOUNT, make_staged())
    [row] = await durable.backend.raw_rows("staged_offers")
    await durable.update_payload("staged_offers", corruption(row[1]))

    with pytest.raises(StateStoreError, match="staged offer batch"):
        await store.load_staged_offers(ACCOUNT)


async def test_the_round_in_the_table_is_text_a_person_can_read(durable: Stores) -> None:
    """The layout `offer_rows` promises: amounts and times as written, ids as strings."""
    store = await durable.open()
    await store.stage_round(ACCOUNT, make_round())

    [row] = await durable.backend.raw_rows("offer_rounds")
    payload = json.loads(row[1])

    assert payload["format"] == 2
    assert payload["requests"][1]["at"] == "2026-03-14T11:30:15.123456+02:00"
    assert payload["answered"] == [[0, 9], [5, 2]]
    assert payload["outcome"]["failed"][0][2:] == ["Oferta zakończona: \u0000 ✓", None]
    assert payload["requests"][2]["command"]["amount"] == "12.50"
    assert payload["commands"][1]["price"] == {"amount": "12.50", "currency": "PLN"}


def test_the_builders_cover_every_shape() -> None:
    """The round trip tests mean something only if the round holds every kind and both
    commands (a guard against the builders drifting)."""
    offer_round = make_round()
    assert {command.kind for command in offer_round.commands} == set(BatchKind)
    assert {type(r.command) for r in offer_round.requests} == {SetStock, SetPrice}
    assert replace(offer_round, reactivate=()) != offer_round
    assert offer_round.answered
    assert offer_round.outcome is not None
    assert offer_round.outcome.activations
    assert {t.failure.code for t in offer_round.outcome.failed} == {None, "VALIDATION_ERROR"}


# A round as the release before `answered` and `outcome` wrote it (format 1), byte for byte.
FORMAT_1_ROUND = (
    '{"format":1,"round_key":"p0:3-4,p2:9-9","covers":[[0,4],[2,9]],"requests":[{"at":'
    '"2026-03-14T09:30:15+00:00","command":{"command_type":"SetStock","command_id":'
    '"6c1b7c8e-2f0a-5b1e-9d6a-3f1c2b4a5d6e","account":"shop-a","sku":"SKU-1","available":5}}],'
    '"offers_by_sku":[["SKU-1",["1001"]]],"commands":[{"kind":"quantity","command_id":'
    '"9041f343-bdf4-5693-879c-bcaa8923afe2","offer_ids":["1001"],"quantity":5,"price":null,'
    '"marketplace":null,"action":null}],"reactivate":["1001"]}'
)


async def test_a_round_of_the_previous_format_reads_with_nothing_answered_and_no_outcome(
    durable: Stores,
) -> None:
    store = await durable.open()
    await store.stage_round(ACCOUNT, make_round())
    await store.finish_round(ACCOUNT, ended=[], reactivated=[])
    await durable.update_payload("offer_rounds", FORMAT_1_ROUND)

    loaded = await store.load_round(ACCOUNT)

    assert loaded is not None
    offer_round, done = loaded
    assert (offer_round.answered, offer_round.outcome, done) == ((), None, True)
    assert (offer_round.round_key, offer_round.covers) == (
        "p0:3-4,p2:9-9",
        (Position(0, 4), Position(2, 9)),
    )
    [command] = offer_round.commands
    assert str(command.command_id) == "9041f343-bdf4-5693-879c-bcaa8923afe2"  # ids as planned
