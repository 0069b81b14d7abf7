from __future__ import annotations

from pathlib import Path

import pytest

from adapters.persistence import (
    DEFAULT_SCHEMA,
    PostgresLocation,
    SqliteLocation,
    parse_state_url,
    redact_url,
)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/openoms-allegro/state.db", Path("var/openoms-allegro/state.db")),
        ("sqlite:///state.db", Path("state.db")),
        ("sqlite:////var/lib/openoms/state.db", Path("/var/lib/openoms/state.db")),
        ("SQLITE:////tmp/with%20space.db", Path("/tmp/with space.db")),
        ("sqlite:///:memory:", None),
        ("sqlite://", None),
    ],
)
def test_sqlite_urls(url: str, path: Path | None) -> None:
    location = parse_state_url(url)

    assert location == SqliteLocation(path)
    assert location.backend == "sqlite"


def test_an_in_memory_location_names_sqlites_memory_database() -> None:
    assert SqliteLocation(None).database == ":memory:"
    assert SqliteLocation(Path("/a/b.db")).database == "/a/b.db"


@pytest.mark.parametrize(
    ("url", "dsn", "schema"),
    [
        ("postgresql://u@db:5432/state", "postgresql://u@db:5432/state", DEFAULT_SCHEMA),
        ("postgres://u:pw@db/state", "postgresql://u:pw@db/state", DEFAULT_SCHEMA),
        ("postgresql+psycopg://db/state", "postgresql://db/state", DEFAULT_SCHEMA),
        (
            "postgresql://db/state?sslmode=require&schema=shop_two",
            "postgresql://db/state?sslmode=require",
            "shop_two",
        ),
    ],
)
def test_postgres_urls(url: str, dsn: str, schema: str) -> None:
    location = parse_state_url(url)

    assert location == PostgresLocation(dsn, schema)
    assert location.backend == "postgresql"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/state", "unsupported state URL scheme 'mysql'"),
        ("/var/state.db", "is not a URL"),
        ("sqlite://host/state.db", "must not name a host"),
        ("sqlite:///state.db?mode=ro", "query parameters are not supported"),
        ("postgresql://db:notaport/state", "malformed PostgreSQL URL"),
        ("postgresql://db/state?schema=Bad-Name", "invalid PostgreSQL schema name"),
    ],
)
def test_other_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_state_url(url)


def test_a_password_never_appears_in_a_location_or_an_error() -> None:
    location = parse_state_url("postgresql://svc:s3cret@db/state")

    assert "s3cret" not in repr(location)
    with pytest.raises(ValueError, match="invalid PostgreSQL schema name") as raised:
        parse_state_url("postgresql://svc:s3cret@db:1/state?schema=1x")
    assert "s3cret" not in str(raised.value)
    with pytest.raises(ValueError, match="malformed") as raised:
        parse_state_url("postgresql://svc:s3cret@db:port/state")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://svc:s3cret@db/state", "postgresql://svc:***@db/state"),
        ("postgresql://svc@db/state", "postgresql://svc@db/state"),
        ("postgresql://db/state", "postgresql://db/state"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
