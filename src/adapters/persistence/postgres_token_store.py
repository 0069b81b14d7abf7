"""OAuth tokens in the PostgreSQL state schema, sealed with `TOKEN_ENCRYPTION_KEY`."""

from __future__ import annotations

from datetime import UTC

from adapters.persistence.lifecycle import OwnsDatabase
from adapters.persistence.postgres_database import PostgresDatabase
from adapters.persistence.rows import require_aware
from adapters.persistence.token_cipher import (
    TokenCipher,
    require_cipher,
    seal_tokens,
    unseal_tokens,
)
from adapters.persistence.url import PostgresLocation
from application.ports.state import TokenPair, TokenStore

_UPSERT_TOKENS = """
    INSERT INTO oauth_tokens (account, sealed, expires_at, scope) VALUES (%s, %s, %s, %s)
    ON CONFLICT (account) DO UPDATE
    SET sealed = excluded.sealed,
        expires_at = excluded.expires_at,
        scope = excluded.scope,
        updated_at = now()
"""


class PostgresTokenStore(OwnsDatabase[PostgresDatabase], TokenStore):
    """`cipher` None: the store opens, but saving or reading tokens names the missing key."""

    def __init__(self, database: PostgresDatabase, cipher: TokenCipher | None) -> None:
        self._database = database
        self._cipher = cipher

    @classmethod
    async def open(
        cls, location: PostgresLocation, cipher: TokenCipher | None
    ) -> PostgresTokenStore:
        return cls(await PostgresDatabase.open(location), cipher)

    async def load(self, account: str) -> TokenPair | None:
        rows = await self._database.fetch_all(
            "loading OAuth tokens",
            "SELECT sealed, expires_at, scope FROM oauth_tokens WHERE account = %s",
            (account,),
        )
        if not rows:
            return None
        sealed, expires_at, scope = rows[0]
        access_token, refresh_token = unseal_tokens(require_cipher(self._cipher), account, sealed)
        return TokenPair(access_token, refresh_token, expires_at.astimezone(UTC), scope)

    async def save(self, account: str, pair: TokenPair) -> None:
        expires_at = require_aware(pair.expires_at)
        sealed = seal_tokens(
            require_cipher(self._cipher), account, pair.access_token, pair.refresh_token
        )
        async with self._database.transaction("saving OAuth tokens") as connection:
            await connection.execute(_UPSERT_TOKENS, (account, sealed, expires_at, pair.scope))
