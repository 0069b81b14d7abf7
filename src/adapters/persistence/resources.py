"""One resource per port that picks the backend from `STATE_URL`.

For a dependency-injector container, either declare these directly::

    state_store = providers.Resource(state_store_resource, location)

or use a `providers.Selector` on `location.backend` over the backend-specific resources
(`sqlite_state_resource_for`, `postgres_state_resource_for`, ...: entrypoints/containers.py).

The `*_for` resources take a `read_only` flag, for the tools that only look (`status`,
`check`, `cursor show`, `dead-letters list`): they never create a file, a directory, a
schema or a table, and never migrate, and none of their stores can write (SQLite `mode=ro`,
a READ ONLY PostgreSQL session): those tools never refresh a token (a refresh would consume
Allegro's single-use refresh token under the service's feet), so they have nothing to save.
With `read_only` False they open exactly as the plain resources do.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Literal

from adapters.persistence.postgres_database import PostgresDatabase
from adapters.persistence.postgres_lease import LeaseFence, PostgresLease
from adapters.persistence.postgres_offer_store import PostgresOfferStore
from adapters.persistence.postgres_state_store import PostgresStateStore
from adapters.persistence.postgres_token_store import PostgresTokenStore
from adapters.persistence.sqlite_database import SqliteDatabase
from adapters.persistence.sqlite_offer_store import SqliteOfferStore
from adapters.persistence.sqlite_state_store import SqliteStateStore
from adapters.persistence.sqlite_token_store import SqliteTokenStore
from adapters.persistence.token_cipher import TokenCipher
from adapters.persistence.url import PostgresLocation, SqliteLocation, StateLocation
from application.ports.state import StateStore, TokenStore


async def state_store_resource(location: StateLocation) -> AsyncGenerator[StateStore, None]:
    store: SqliteStateStore | PostgresStateStore
    if isinstance(location, SqliteLocation):
        store = await SqliteStateStore.open(location.path)
    else:
        store = await PostgresStateStore.open(location)
    async with store:
        yield store


async def token_store_resource(
    location: StateLocation, cipher: TokenCipher | None
) -> AsyncGenerator[TokenStore, None]:
    store: SqliteTokenStore | PostgresTokenStore
    if isinstance(location, SqliteLocation):
        store = await SqliteTokenStore.open(location.path, cipher)
    else:
        store = await PostgresTokenStore.open(location, cipher)
    async with store:
        yield store


def _access(read_only: bool) -> Literal["create", "read_only"]:
    return "read_only" if read_only else "create"


async def sqlite_state_resource_for(
    location: SqliteLocation, read_only: bool
) -> AsyncGenerator[SqliteStateStore, None]:
    database = await SqliteDatabase.open(location.path, access=_access(read_only))
    async with SqliteStateStore(database) as store:
        yield store


async def sqlite_token_resource_for(
    location: SqliteLocation, cipher: TokenCipher | None, read_only: bool
) -> AsyncGenerator[SqliteTokenStore, None]:
    database = await SqliteDatabase.open(location.path, access=_access(read_only))
    async with SqliteTokenStore(database, cipher) as store:
        yield store


async def postgres_state_resource_for(
    location: PostgresLocation, fence: LeaseFence | None, read_only: bool
) -> AsyncGenerator[PostgresStateStore, None]:
    database = await PostgresDatabase.open(location, access=_access(read_only))
    async with PostgresStateStore(database, fence) as store:
        yield store


async def sqlite_offer_resource_for(
    location: SqliteLocation, read_only: bool
) -> AsyncGenerator[SqliteOfferStore, None]:
    database = await SqliteDatabase.open(location.path, access=_access(read_only))
    async with SqliteOfferStore(database) as store:
        yield store


async def postgres_offer_resource_for(
    location: PostgresLocation, fence: LeaseFence | None, read_only: bool
) -> AsyncGenerator[PostgresOfferStore, None]:
    """With the state store's fence: a replica that lost the lease writes nothing."""
    database = await PostgresDatabase.open(location, access=_access(read_only))
    async with PostgresOfferStore(database, fence) as store:
        yield store


async def postgres_token_resource_for(
    location: PostgresLocation, cipher: TokenCipher | None, read_only: bool
) -> AsyncGenerator[PostgresTokenStore, None]:
    database = await PostgresDatabase.open(location, access=_access(read_only))
    async with PostgresTokenStore(database, cipher) as store:
        yield store


async def postgres_lease_resource_for(
    location: PostgresLocation, read_only: bool
) -> AsyncGenerator[PostgresLease, None]:
    """Read-only: for `current()` (who holds the lease); taking it would fail."""
    database = await PostgresDatabase.open(location, access=_access(read_only))
    async with PostgresLease(database) as lease:
        yield lease
