"""One resource per port that picks the backend from `STATE_URL`.

For a dependency-injector container, either declare these directly::

    state_store = providers.Resource(state_store_resource, location)

or use a `providers.Selector` on `location.backend` over the backend-specific resources
(`sqlite_state_resource`, `postgres_state_resource`, ...).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from adapters.persistence.postgres_state_store import PostgresStateStore
from adapters.persistence.postgres_token_store import PostgresTokenStore
from adapters.persistence.sqlite_state_store import SqliteStateStore
from adapters.persistence.sqlite_token_store import SqliteTokenStore
from adapters.persistence.token_cipher import TokenCipher
from adapters.persistence.url import SqliteLocation, StateLocation
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
