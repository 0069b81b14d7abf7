"""`STATE_URL` -> where the state lives: a SQLite file (or memory) or a PostgreSQL schema.

SQLite URLs follow SQLAlchemy's convention: `sqlite:///state.db` is relative to the working
directory, `sqlite:////var/lib/state.db` is absolute, `sqlite://` or `sqlite:///:memory:`
is an in-memory database (gone when the process exits: for tests and demos only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

DEFAULT_SCHEMA = "openoms_allegro"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
_EXPECTED = "expected sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql://..."


@dataclass(frozen=True, slots=True)
class SqliteLocation:
    path: Path | None  # None: in memory
    backend: ClassVar[Literal["sqlite"]] = "sqlite"

    @property
    def database(self) -> str:
        """What `sqlite3.connect` expects."""
        return ":memory:" if self.path is None else str(self.path)


@dataclass(frozen=True, slots=True)
class PostgresLocation:
    dsn: str = field(repr=False)  # may carry a password
    schema: str = DEFAULT_SCHEMA
    backend: ClassVar[Literal["postgresql"]] = "postgresql"

    def __post_init__(self) -> None:
        validate_schema_name(self.schema)

    def __repr__(self) -> str:
        return f"PostgresLocation(dsn={redact_url(self.dsn)!r}, schema={self.schema!r})"


StateLocation = SqliteLocation | PostgresLocation


def sqlite_path(location: SqliteLocation | Path | None) -> Path | None:
    """The file of a SQLite location given as a location or a bare path (None: in memory)."""
    return location.path if isinstance(location, SqliteLocation) else location


def parse_state_url(url: str) -> StateLocation:
    """Raises ValueError with a message fit for an operator (the password is never shown)."""
    scheme, separator, rest = url.strip().partition("://")
    scheme = scheme.lower()
    if not separator:
        raise ValueError(f"state URL {redact_url(url)!r} is not a URL; {_EXPECTED}")
    if scheme == "sqlite":
        return _sqlite_location(rest, url)
    if scheme in _POSTGRES_SCHEMES:
        return _postgres_location(url.strip())
    raise ValueError(f"unsupported state URL scheme {scheme!r}; {_EXPECTED}")


def validate_schema_name(schema: str) -> str:
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(
            f"invalid PostgreSQL schema name {schema!r}: use lower-case letters, digits and "
            "underscores, starting with a letter or underscore (at most 63 characters)"
        )
    return schema


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if not password:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def _sqlite_location(rest: str, url: str) -> SqliteLocation:
    if rest == "":
        return SqliteLocation(None)
    host, slash, path = rest.partition("/")
    if host or not slash:
        raise ValueError(
            f"SQLite URL {url!r} must not name a host (note the three slashes); {_EXPECTED}"
        )
    if "?" in path or "#" in path:
        raise ValueError(f"SQLite URL {url!r}: query parameters are not supported")
    path = unquote(path)
    if path in ("", ":memory:"):
        return SqliteLocation(None)
    return SqliteLocation(Path(path))


def _postgres_location(url: str) -> PostgresLocation:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"malformed PostgreSQL URL {redact_url(url)!r}: {exc}") from exc
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    rest = [(key, value) for key, value in query if key != "schema"]
    dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(rest)))
    return PostgresLocation(dsn, schemas[-1] if schemas else DEFAULT_SCHEMA)
