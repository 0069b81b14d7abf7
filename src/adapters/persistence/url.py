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
from urllib.parse import unquote, unquote_plus, urlsplit

DEFAULT_SCHEMA = "openoms_allegro"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
# libpq's `password` and `sslpassword`, and anything else named like a secret.
_SECRET_PARAMETER = re.compile(r"pass|secret|token", re.IGNORECASE)
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
    """The URL with its password and every secret query parameter (`password`, `sslpassword`,
    anything named like a secret or token) replaced by `***`; the rest is shown as given."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if password:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{hostinfo}"
    query = "&".join(_redacted_field(field) for field in _fields(parts.query))
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret: shown exactly as configured
    return _join(parts.scheme, netloc, parts.path, query, parts.fragment)


def _fields(query: str) -> list[str]:
    """The `name=value` fields of a query string, as written (not decoded)."""
    return [field for field in query.split("&") if field]


def _decoded(field: str) -> tuple[str, str]:
    """A field's name and value as `parse_qsl` decodes them."""
    name, _, value = field.partition("=")
    return unquote_plus(name), unquote_plus(value)


def _redacted_field(field: str) -> str:
    name, equals, _ = field.partition("=")
    return f"{name}=***" if equals and _SECRET_PARAMETER.search(_decoded(field)[0]) else field


def _join(scheme: str, netloc: str, path: str, query: str, fragment: str = "") -> str:
    """`urlunsplit` without its loss: it drops the `//` of an empty host, which turns a
    socket URL (`postgresql:///db?host=/run/postgresql`) into one libpq refuses."""
    url = f"{scheme}://{netloc}{path}"
    url += f"?{query}" if query else ""
    return url + (f"#{fragment}" if fragment else "")


def _sqlite_location(rest: str, url: str) -> SqliteLocation:
    if rest == "":
        return SqliteLocation(None)
    host, slash, path = rest.partition("/")
    if host or not slash:
        raise ValueError(
            f"SQLite URL {redact_url(url)!r} must not name a host (note the three slashes); "
            f"{_EXPECTED}"
        )
    if "?" in path or "#" in path:
        raise ValueError(f"SQLite URL {redact_url(url)!r}: query parameters are not supported")
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
    # The other parameters reach libpq exactly as written (not decoded and re-encoded).
    fields = _fields(parts.query)
    schemas = [value for name, value in map(_decoded, fields) if name == "schema"]
    rest = [field for field in fields if _decoded(field)[0] != "schema"]
    dsn = _join("postgresql", parts.netloc, parts.path, "&".join(rest), parts.fragment)
    return PostgresLocation(dsn, schemas[-1] if schemas else DEFAULT_SCHEMA)
