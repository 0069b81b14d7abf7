"""State adapters: the journal cursor, order records, failure counts and OAuth tokens.

`STATE_URL` picks the backend (`parse_state_url`): a SQLite file for one replica, or
PostgreSQL. The in-memory stores are the tests' fakes of `StateStore` and `TokenStore` (see
`tests/support/fakes.py`). All of them pass the contract
suites in `tests/contract`.
"""

from adapters.persistence.memory_offer_store import MemoryOfferStore
from adapters.persistence.memory_state_store import MemoryStateStore, MemoryTokenStore
from adapters.persistence.migrations import (
    POSTGRES_MIGRATIONS,
    SQLITE_MIGRATIONS,
    Migration,
)
from adapters.persistence.postgres_database import PostgresDatabase
from adapters.persistence.postgres_lease import (
    Lease,
    LeaseFence,
    LeaseLost,
    PostgresLease,
)
from adapters.persistence.postgres_offer_store import PostgresOfferStore
from adapters.persistence.postgres_state_store import PostgresStateStore
from adapters.persistence.postgres_token_store import PostgresTokenStore
from adapters.persistence.resources import state_store_resource, token_store_resource
from adapters.persistence.sqlite_database import SqliteDatabase
from adapters.persistence.sqlite_offer_store import SqliteOfferStore
from adapters.persistence.sqlite_state_store import SqliteStateStore
from adapters.persistence.sqlite_token_store import SqliteTokenStore
from adapters.persistence.sqlite_writer_lock import (
    SqliteWriterLock,
    WriterInfo,
    WriterLockHeld,
    sqlite_writer_lock_resource,
)
from adapters.persistence.token_cipher import (
    TokenCipher,
    TokenKeyError,
    TokenKeyMismatch,
    TokenKeyMissing,
)
from adapters.persistence.url import (
    DEFAULT_SCHEMA,
    PostgresLocation,
    SqliteLocation,
    StateLocation,
    parse_state_url,
    redact_url,
)

__all__ = [
    "DEFAULT_SCHEMA",
    "POSTGRES_MIGRATIONS",
    "SQLITE_MIGRATIONS",
    "Lease",
    "LeaseFence",
    "LeaseLost",
    "MemoryOfferStore",
    "MemoryStateStore",
    "MemoryTokenStore",
    "Migration",
    "PostgresDatabase",
    "PostgresLease",
    "PostgresLocation",
    "PostgresOfferStore",
    "PostgresStateStore",
    "PostgresTokenStore",
    "SqliteDatabase",
    "SqliteLocation",
    "SqliteOfferStore",
    "SqliteStateStore",
    "SqliteTokenStore",
    "SqliteWriterLock",
    "StateLocation",
    "TokenCipher",
    "TokenKeyError",
    "TokenKeyMismatch",
    "TokenKeyMissing",
    "WriterInfo",
    "WriterLockHeld",
    "parse_state_url",
    "redact_url",
    "sqlite_writer_lock_resource",
    "state_store_resource",
    "token_store_resource",
]
