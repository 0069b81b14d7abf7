"""`Wired` (entrypoints/wiring.py): the typed face of the composition root. Resources open
only when asked for and `shutdown()` closes what was opened; the backend is the one
`STATE_URL` names; an accessor is awaitable whatever its provider was overridden with."""

from __future__ import annotations

from pathlib import Path

import pytest
from dependency_injector import providers

from adapters.persistence import SqliteStateStore
from application.ports.errors import StateStoreError
from application.ports.state import Cursor
from entrypoints.settings import Settings, load_settings
from entrypoints.wiring import Wired, opened
from tests.support.fakes import InMemoryEventPublisher
from tests.support.service import TEST_KEY


def settings_for(state_url: str) -> Settings:
    return load_settings(
        allegro_client_id="app",
        allegro_client_secret="secret",
        allegro_api_url="http://127.0.0.1:9",  # nothing listens: no test here sends a request
        allegro_auth_url="http://127.0.0.1:9/auth/oauth",
        allegro_account="shop",
        state_url=state_url,
        token_encryption_key=TEST_KEY,
    )


def created(path: Path) -> bool:
    return path.exists()


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def settings(state_file: Path) -> Settings:
    return settings_for(f"sqlite:///{state_file}")


async def test_nothing_is_opened_until_an_accessor_asks(
    settings: Settings, state_file: Path
) -> None:
    # A writable wiring creates the state file on its first open; until then there is none.
    async with opened(settings) as wired:
        assert not created(state_file)

    assert not created(state_file)

    async with opened(settings) as wired:
        await wired.state_store()
        assert created(state_file)


async def test_shutdown_with_nothing_opened_returns(settings: Settings) -> None:
    wired = Wired(settings, read_only=True)

    await wired.shutdown()
    await wired.close_allegro()


async def test_shutdown_closes_what_was_opened(settings: Settings) -> None:
    wired = Wired(settings)
    store = await wired.state_store()
    tokens = await wired.token_store()
    await store.commit("shop", Cursor("7"))

    await wired.shutdown()

    with pytest.raises(StateStoreError, match="closed"):
        await store.load_cursor("shop")
    with pytest.raises(StateStoreError, match="closed"):
        await tokens.load("shop")


async def test_the_backend_is_the_one_state_url_names(settings: Settings) -> None:
    sqlite = Wired(settings)
    postgres = Wired(settings_for("postgresql://openoms@127.0.0.1:9/openoms?schema=shop"))

    assert (sqlite.backend, sqlite.postgres) == ("sqlite", False)
    assert (postgres.backend, postgres.postgres) == ("postgres", True)
    try:
        assert isinstance(await sqlite.state_store(), SqliteStateStore)
    finally:
        await sqlite.shutdown()
        await postgres.shutdown()


@pytest.mark.parametrize("overridden", ["kafka_publisher", "publisher"])
async def test_an_accessor_is_awaitable_whatever_a_test_overrides(
    settings: Settings, overridden: str
) -> None:
    """A plain object in place of the producer (as tests/faults/test_failpoints.py does) or
    of the publisher itself is still handed out through `await`."""
    producer = InMemoryEventPublisher()
    wired = Wired(settings, read_only=True)
    getattr(wired.container.gateways, overridden).override(providers.Object(producer))
    try:
        assert await wired.publisher() is producer
    finally:
        await wired.shutdown()


async def test_closing_allegro_ends_the_term_and_keeps_the_stores(settings: Settings) -> None:
    async with opened(settings) as wired:
        first = await wired.allegro()
        assert await wired.allegro() is first  # one client per term

        await wired.close_allegro()

        assert await wired.allegro() is not first  # the next term builds its own
        assert await (await wired.token_store()).load("shop") is None  # still open
