"""Schema of the state database, one list of versioned migrations per SQL dialect.

Each store applies the pending migrations when it opens, in one transaction, and records
the version reached in `schema_version`: opening twice is harmless, opening a database
left by an older release brings it up to date, and one written by a newer release is
refused rather than misread. Released migrations are never edited: add a new one.

Every table is keyed by account, so one database can serve several seller accounts.
The CHECK constraints mirror what the in-memory store refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from application.ports.errors import StateStoreError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


# The same in both dialects. NULL: a record written before fingerprints were kept (rows of
# an older release read back with None). The length bound and the refusal of control
# characters live in the adapter (`rows.check_content`), not here: relaxing a CHECK takes a
# table rebuild on SQLite, and a later fingerprint may well be longer.
_ADD_CONTENT = (
    "ALTER TABLE order_records ADD COLUMN content TEXT CHECK (content IS NULL OR content <> '')"
)

# The offer store (docs/offers.md): the offer event cursor and when the journal was last read,
# what was last published per offer, the staged offer batch and the offer command round (TEXT
# payloads, as the order outbox's: kept exactly as written), and the offers the service ended
# for a stock of 0 (re-activated when stock comes back).
_OFFERS = (
    "offers: the offer event cursor, offer records, the staged offer batch, the offer "
    "command round, the offers the service ended"
)


SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "cursor, order records, failure counts, sealed OAuth tokens",
        (
            """
            CREATE TABLE cursors (
                account     TEXT PRIMARY KEY CHECK (account <> ''),
                position    TEXT CHECK (position IS NULL OR position <> ''),
                updated_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )
            """,
            """
            CREATE TABLE order_records (
                account             TEXT NOT NULL CHECK (account <> ''),
                checkout_form_id    TEXT NOT NULL CHECK (checkout_form_id <> ''),
                revision            TEXT,
                order_status        TEXT NOT NULL,
                payment_status      TEXT NOT NULL,
                fulfillment_status  TEXT,
                updated_at          TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (account, checkout_form_id)
            )
            """,
            """
            CREATE TABLE failures (
                account           TEXT NOT NULL CHECK (account <> ''),
                checkout_form_id  TEXT NOT NULL CHECK (checkout_form_id <> ''),
                attempts          INTEGER NOT NULL CHECK (attempts > 0),
                last_error        TEXT NOT NULL,
                updated_at        TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (account, checkout_form_id)
            )
            """,
            """
            CREATE TABLE oauth_tokens (
                account     TEXT PRIMARY KEY CHECK (account <> ''),
                sealed      TEXT NOT NULL,
                expires_at  TEXT NOT NULL,
                scope       TEXT,
                updated_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )
            """,
        ),
    ),
    Migration(
        2,
        "the last poll error of each account, for `openoms-allegro status`",
        (
            """
            CREATE TABLE poll_errors (
                account      TEXT PRIMARY KEY CHECK (account <> ''),
                message      TEXT NOT NULL,
                occurred_at  TEXT NOT NULL
            )
            """,
        ),
    ),
    Migration(
        3,
        "the transactional outbox: a batch staged before sending, deleted by its commit",
        (
            """
            CREATE TABLE staged_batches (
                account    TEXT PRIMARY KEY CHECK (account <> ''),
                payload    TEXT NOT NULL,
                staged_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )
            """,
        ),
    ),
    Migration(
        4,
        "the dead-letter index: inputs quarantined and not decided since",
        (
            """
            CREATE TABLE dead_letters (
                account           TEXT NOT NULL CHECK (account <> ''),
                checkout_form_id  TEXT NOT NULL CHECK (checkout_form_id <> ''),
                allegro_event_id  TEXT,
                error             TEXT NOT NULL,
                attempts          INTEGER NOT NULL CHECK (attempts > 0),
                failed_at         TEXT NOT NULL,
                PRIMARY KEY (account, checkout_form_id)
            )
            """,
        ),
    ),
    Migration(
        5,
        "order records keep the published content's fingerprint",
        (_ADD_CONTENT,),
    ),
    Migration(
        6,
        _OFFERS,
        (
            """
            CREATE TABLE offer_cursors (
                account     TEXT PRIMARY KEY CHECK (account <> ''),
                position    TEXT CHECK (position IS NULL OR position <> ''),
                read_at     TEXT NOT NULL,
                updated_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )
            """,
            """
            CREATE TABLE offer_records (
                account             TEXT NOT NULL CHECK (account <> ''),
                offer_id            TEXT NOT NULL CHECK (offer_id <> ''),
                offer_values        TEXT NOT NULL,
                ended_by            TEXT,
                publication_status  TEXT NOT NULL,
                updated_at          TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (account, offer_id)
            )
            """,
            """
            CREATE TABLE staged_offers (
                account    TEXT PRIMARY KEY CHECK (account <> ''),
                payload    TEXT NOT NULL,
                staged_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )
            """,
            """
            CREATE TABLE offer_rounds (
                account    TEXT PRIMARY KEY CHECK (account <> ''),
                payload    TEXT NOT NULL,
                done       INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
                staged_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )
            """,
            """
            CREATE TABLE ended_offers (
                account   TEXT NOT NULL CHECK (account <> ''),
                offer_id  TEXT NOT NULL CHECK (offer_id <> ''),
                ended_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (account, offer_id)
            )
            """,
        ),
    ),
)

POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "cursor, order records, failure counts, sealed OAuth tokens",
        (
            """
            CREATE TABLE cursors (
                account     TEXT PRIMARY KEY CHECK (account <> ''),
                position    TEXT CHECK (position IS NULL OR position <> ''),
                updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE order_records (
                account             TEXT NOT NULL CHECK (account <> ''),
                checkout_form_id    TEXT NOT NULL CHECK (checkout_form_id <> ''),
                revision            TEXT,
                order_status        TEXT NOT NULL,
                payment_status      TEXT NOT NULL,
                fulfillment_status  TEXT,
                updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (account, checkout_form_id)
            )
            """,
            """
            CREATE TABLE failures (
                account           TEXT NOT NULL CHECK (account <> ''),
                checkout_form_id  TEXT NOT NULL CHECK (checkout_form_id <> ''),
                attempts          INTEGER NOT NULL CHECK (attempts > 0),
                last_error        TEXT NOT NULL,
                updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (account, checkout_form_id)
            )
            """,
            """
            CREATE TABLE oauth_tokens (
                account     TEXT PRIMARY KEY CHECK (account <> ''),
                sealed      TEXT NOT NULL,
                expires_at  TIMESTAMPTZ NOT NULL,
                scope       TEXT,
                updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
        ),
    ),
    Migration(
        2,
        "leader lease for several replicas",
        (
            # Rows are never deleted, so an account's fencing token only ever grows.
            """
            CREATE TABLE leases (
                account        TEXT PRIMARY KEY CHECK (account <> ''),
                holder         TEXT NOT NULL CHECK (holder <> ''),
                fencing_token  BIGINT NOT NULL CHECK (fencing_token > 0),
                expires_at     TIMESTAMPTZ NOT NULL
            )
            """,
        ),
    ),
    Migration(
        3,
        "the last poll error of each account, for `openoms-allegro status`",
        (
            """
            CREATE TABLE poll_errors (
                account      TEXT PRIMARY KEY CHECK (account <> ''),
                message      TEXT NOT NULL,
                occurred_at  TIMESTAMPTZ NOT NULL
            )
            """,
        ),
    ),
    Migration(
        4,
        "the transactional outbox: a batch staged before sending, deleted by its commit",
        (
            # TEXT, not JSONB: kept exactly as written (JSONB also refuses NUL characters).
            """
            CREATE TABLE staged_batches (
                account    TEXT PRIMARY KEY CHECK (account <> ''),
                payload    TEXT NOT NULL,
                staged_at  TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
        ),
    ),
    Migration(
        5,
        "whether a lease's holder holds the account's lock session (prompt takeover)",
        ("ALTER TABLE leases ADD COLUMN session_locked BOOLEAN NOT NULL DEFAULT false",),
    ),
    Migration(
        6,
        "the dead-letter index: inputs quarantined and not decided since",
        (
            """
            CREATE TABLE dead_letters (
                account           TEXT NOT NULL CHECK (account <> ''),
                checkout_form_id  TEXT NOT NULL CHECK (checkout_form_id <> ''),
                allegro_event_id  TEXT,
                error             TEXT NOT NULL,
                attempts          INTEGER NOT NULL CHECK (attempts > 0),
                failed_at         TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (account, checkout_form_id)
            )
            """,
        ),
    ),
    Migration(
        7,
        "order records keep the published content's fingerprint",
        (_ADD_CONTENT,),
    ),
    Migration(
        8,
        _OFFERS,
        (
            """
            CREATE TABLE offer_cursors (
                account     TEXT PRIMARY KEY CHECK (account <> ''),
                position    TEXT CHECK (position IS NULL OR position <> ''),
                read_at     TIMESTAMPTZ NOT NULL,
                updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE offer_records (
                account             TEXT NOT NULL CHECK (account <> ''),
                offer_id            TEXT NOT NULL CHECK (offer_id <> ''),
                offer_values        TEXT NOT NULL,
                ended_by            TEXT,
                publication_status  TEXT NOT NULL,
                updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (account, offer_id)
            )
            """,
            """
            CREATE TABLE staged_offers (
                account    TEXT PRIMARY KEY CHECK (account <> ''),
                payload    TEXT NOT NULL,
                staged_at  TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE offer_rounds (
                account    TEXT PRIMARY KEY CHECK (account <> ''),
                payload    TEXT NOT NULL,
                done       BOOLEAN NOT NULL DEFAULT false,
                staged_at  TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE ended_offers (
                account   TEXT NOT NULL CHECK (account <> ''),
                offer_id  TEXT NOT NULL CHECK (offer_id <> ''),
                ended_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (account, offer_id)
            )
            """,
        ),
    ),
)

SCHEMA_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"


def pending_migrations(migrations: Sequence[Migration], current: int) -> tuple[Migration, ...]:
    """The migrations to apply to a database at version `current` (0: empty), in order."""
    versions = [migration.version for migration in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3... in order, got {versions}")
    latest = len(versions)
    if current > latest:
        raise StateStoreError(
            f"the state database is at schema version {current}, newer than this release "
            f"understands ({latest}): upgrade openoms-allegro, or point STATE_URL elsewhere"
        )
    return tuple(migrations[current:])
