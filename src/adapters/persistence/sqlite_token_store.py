"""OAuth tokens in the SQLite state file, sealed with `TOKEN_ENCRYPTION_KEY`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from adapters.persistence.lifecycle import OwnsDatabase
from adapters.persistence.rows import require_aware
from adapters.persistence.sqlite_database import SqliteDatabase
from adapters.persistence.token_cipher import (
    TokenCipher,
    require_cipher,
    seal_tokens,
    unseal_tokens,
)
from application.ports.state import TokenPair, TokenStore

_UPSERT_TOKENS = """
    INSERT INTO oauth_tokens (account, sealed, expires_at, scope) VALUES (?, ?, ?, ?)
    ON CONFLICT (account) DO UPDATE
    SET sealed = excluded.sealed,
        expires_at = excluded.expires_at,
        scope = excluded.scope,
        updated_at = CURRENT_TIMESTAMP
"""


class SqliteTokenStore(OwnsDatabase[SqliteDatabase], TokenStore):
    """`cipher` None: the store opens, but saving or reading tokens names the missing key."""

    def __init__(self, database: SqliteDatabase, cipher: TokenCipher | None) -> None:
        self._database = database
        self._cipher = cipher

    @classmethod
    async def open(cls, path: Path | None, cipher: TokenCipher | None) -> SqliteTokenStore:
        return cls(await SqliteDatabase.open(path), cipher)

    async def load(self, account: str) -> TokenPair | None:
        rows = await self._database.fetch_all(
            "loading OAuth tokens",
            "SELECT sealed, expires_at, scope FROM oauth_tokens WHERE account = ?",
            (account,),
        )
        if not rows:
            return None
        sealed, expires_at, scope = rows[0]
        access_token, refresh_token = unseal_tokens(require_cipher(self._cipher), account, sealed)
        return TokenPair(access_token, refresh_token, datetime.fromisoformat(expires_at), scope)

    async def save(self, account: str, pair: TokenPair) -> None:
        expires_at = require_aware(pair.expires_at).isoformat()
        sealed = seal_tokens(
            require_cipher(self._cipher), account, pair.access_token, pair.refresh_token
        )
        async with self._database.transaction("saving OAuth tokens") as connection:
            await connection.execute(_UPSERT_TOKENS, (account, sealed, expires_at, pair.scope))
