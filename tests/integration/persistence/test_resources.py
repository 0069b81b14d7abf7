"""The resource functions, driven the way the composition root drives them."""

from __future__ import annotations

from pathlib import Path

import pytest
from dependency_injector import containers, providers

from adapters.persistence import (
    PostgresStateStore,
    PostgresTokenStore,
    SqliteStateStore,
    SqliteTokenStore,
    StateLocation,
    TokenCipher,
    parse_state_url,
    state_store_resource,
    token_store_resource,
)
from application.ports.errors import StateStoreError
from application.ports.state import Cursor
from tests.contract.test_token_store_contract import make_pair
from tests.integration.persistence.backends import open_backend


class Container(containers.DeclarativeContainer):
    location: providers.Dependency[StateLocation] = providers.Dependency()
    cipher: providers.Dependency[TokenCipher | None] = providers.Dependency()
    state_store = providers.Resource(state_store_resource, location)
    token_store = providers.Resource(token_store_resource, location, cipher)


async def test_a_container_opens_and_closes_sqlite_stores(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    container = Container(
        location=parse_state_url(f"sqlite:///{path}"),
        cipher=TokenCipher.from_key(TokenCipher.generate_key()),
    )

    await container.init_resources()  # type: ignore[misc]
    state, tokens = await container.state_store.async_(), await container.token_store.async_()
    await state.commit("shop", Cursor("1"))
    await tokens.save("shop", make_pair())
    await container.shutdown_resources()  # type: ignore[misc]

    assert isinstance(state, SqliteStateStore)
    assert isinstance(tokens, SqliteTokenStore)
    with pytest.raises(StateStoreError, match="closed"):
        await state.load_cursor("shop")
    with pytest.raises(StateStoreError, match="closed"):
        await tokens.load("shop")


@pytest.mark.integration
async def test_a_container_opens_and_closes_postgres_stores(tmp_path: Path) -> None:
    async with open_backend("postgresql", tmp_path) as backend:
        container = Container(location=backend.location, cipher=None)

        await container.init_resources()  # type: ignore[misc]
        state, tokens = await container.state_store.async_(), await container.token_store.async_()
        await state.commit("shop", Cursor("1"))
        await container.shutdown_resources()  # type: ignore[misc]

        assert isinstance(state, PostgresStateStore)
        assert isinstance(tokens, PostgresTokenStore)
        with pytest.raises(StateStoreError, match="closed"):
            await state.load_cursor("shop")
        reopened = await backend.state_store()
        assert await reopened.load_cursor("shop") == Cursor("1")
