"""One behaviour, every TokenStore; the durable ones also keep tokens encrypted at rest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.persistence import TokenCipher, TokenKeyMismatch, TokenKeyMissing
from application.ports.errors import StateStoreError
from application.ports.state import TokenPair, TokenStore
from tests.integration.persistence.backends import DURABLE_KINDS, KINDS, Backend, open_backend

ACCOUNT = "shop-a"
OTHER_ACCOUNT = "shop-b"
KEY = TokenCipher.generate_key()
ACCESS_TOKEN = "access-AAA-secret"
REFRESH_TOKEN = "refresh-RRR-secret"


def make_pair(
    access_token: str = ACCESS_TOKEN,
    refresh_token: str = REFRESH_TOKEN,
    expires_at: datetime = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    scope: str | None = "allegro:api:orders:read",
) -> TokenPair:
    return TokenPair(access_token, refresh_token, expires_at, scope)


@pytest.fixture(params=KINDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture(params=DURABLE_KINDS)
async def durable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
async def store(backend: Backend) -> TokenStore:
    return await backend.token_store(TokenCipher.from_key(KEY))


async def test_nothing_is_loaded_before_the_first_save(store: TokenStore) -> None:
    assert await store.load(ACCOUNT) is None


@pytest.mark.parametrize("scope", [None, "allegro:api:orders:read allegro:api:sale:offers:read"])
async def test_a_saved_pair_loads_back_equal(store: TokenStore, scope: str | None) -> None:
    pair = make_pair(scope=scope)

    await store.save(ACCOUNT, pair)

    assert await store.load(ACCOUNT) == pair


async def test_an_expiry_in_another_time_zone_is_the_same_instant(store: TokenStore) -> None:
    warsaw = timezone(timedelta(hours=2))
    pair = make_pair(expires_at=datetime(2030, 6, 1, 12, 0, tzinfo=warsaw))

    await store.save(ACCOUNT, pair)

    loaded = await store.load(ACCOUNT)
    assert loaded is not None
    assert loaded.expires_at == datetime(2030, 6, 1, 10, 0, tzinfo=UTC)


async def test_saving_again_replaces_the_pair(store: TokenStore) -> None:
    await store.save(ACCOUNT, make_pair())
    rotated = make_pair("access-2", "refresh-2", datetime(2031, 1, 1, tzinfo=UTC))

    await store.save(ACCOUNT, rotated)

    assert await store.load(ACCOUNT) == rotated


async def test_accounts_do_not_see_each_other(store: TokenStore) -> None:
    await store.save(ACCOUNT, make_pair())

    assert await store.load(OTHER_ACCOUNT) is None


async def test_a_naive_expiry_is_refused(store: TokenStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.save(ACCOUNT, make_pair(expires_at=datetime(2030, 1, 1)))

    assert await store.load(ACCOUNT) is None


async def test_a_loaded_pair_never_shows_its_tokens(store: TokenStore) -> None:
    await store.save(ACCOUNT, make_pair())

    loaded = await store.load(ACCOUNT)

    assert "secret" not in repr(loaded)
    assert "secret" not in str(loaded)


async def test_tokens_survive_reopening_the_store(durable: Backend) -> None:
    first = await durable.token_store(TokenCipher.from_key(KEY))
    await first.save(ACCOUNT, make_pair())
    await durable.close_stores()

    reopened = await durable.token_store(TokenCipher.from_key(KEY))

    assert await reopened.load(ACCOUNT) == make_pair()


async def test_tokens_are_encrypted_at_rest(durable: Backend) -> None:
    store = await durable.token_store(TokenCipher.from_key(KEY))
    await store.save(ACCOUNT, make_pair())

    rows = await durable.raw_rows("oauth_tokens")

    assert len(rows) == 1
    assert ACCOUNT in rows[0]
    stored = repr(rows)
    assert "access-AAA" not in stored
    assert "refresh-RRR" not in stored


async def test_saving_without_a_key_names_the_variable(durable: Backend) -> None:
    store = await durable.token_store(cipher=None)

    with pytest.raises(TokenKeyMissing, match="TOKEN_ENCRYPTION_KEY"):
        await store.save(ACCOUNT, make_pair())

    assert await durable.raw_rows("oauth_tokens") == []


async def test_loading_stored_tokens_without_a_key_names_the_variable(durable: Backend) -> None:
    await (await durable.token_store(TokenCipher.from_key(KEY))).save(ACCOUNT, make_pair())
    keyless = await durable.token_store(cipher=None)

    with pytest.raises(TokenKeyMissing, match="TOKEN_ENCRYPTION_KEY"):
        await keyless.load(ACCOUNT)
    assert await keyless.load(OTHER_ACCOUNT) is None  # nothing stored: nothing to decrypt


async def test_a_different_key_is_a_clear_error(durable: Backend) -> None:
    await (await durable.token_store(TokenCipher.from_key(KEY))).save(ACCOUNT, make_pair())
    other_key = await durable.token_store(TokenCipher.from_key(TokenCipher.generate_key()))

    with pytest.raises(TokenKeyMismatch, match="TOKEN_ENCRYPTION_KEY") as raised:
        await other_key.load(ACCOUNT)

    assert isinstance(raised.value, StateStoreError)
    assert "secret" not in str(raised.value)
