from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

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


@pytest.mark.parametrize(
    ("url", "bad_schema_url", "bad_port_url", "secrets"),
    [
        (  # in the user information
            "postgresql://svc:s3cret@db/state",
            "postgresql://svc:s3cret@db:1/state?schema=1x",
            "postgresql://svc:s3cret@db:port/state",
            ("s3cret",),
        ),
        (  # as query parameters
            "postgresql://svc@db/state?password=s3cret&sslpassword=k3y",
            "postgresql://svc@db:1/state?password=s3cret&schema=1x",
            "postgresql://svc@db:port/state?password=s3cret",
            ("s3cret", "k3y"),
        ),
    ],
)
def test_a_password_never_appears_in_a_location_or_an_error(
    url: str, bad_schema_url: str, bad_port_url: str, secrets: tuple[str, ...]
) -> None:
    location = parse_state_url(url)
    with pytest.raises(ValueError, match="invalid PostgreSQL schema name") as bad_schema:
        parse_state_url(bad_schema_url)
    with pytest.raises(ValueError, match="malformed") as bad_port:
        parse_state_url(bad_port_url)

    for shown in (repr(location), str(bad_schema.value), str(bad_port.value)):
        assert not [secret for secret in secrets if secret in shown], shown


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://svc:s3cret@db/state", "postgresql://svc:***@db/state"),
        ("postgresql://svc@db/state", "postgresql://svc@db/state"),
        ("postgresql://db/state", "postgresql://db/state"),
        ("postgresql://svc@db/state?password=s3cret", "postgresql://svc@db/state?password=***"),
        (
            "postgresql://db/state?sslmode=verify-full&sslpassword=s3cret&schema=shop",
            "postgresql://db/state?sslmode=verify-full&sslpassword=***&schema=shop",
        ),
        (
            "postgresql://svc:s3cret@db/state?PASSWORD=s3cret&application_name=x",
            "postgresql://svc:***@db/state?PASSWORD=***&application_name=x",
        ),
        (
            "postgresql:///state?host=/run/postgresql&password=s3cret",
            "postgresql:///state?host=/run/postgresql&password=***",
        ),
        ("postgresql:///state?host=/run/postgresql", "postgresql:///state?host=/run/postgresql"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize(
    ("url", "conninfo"),
    [
        (
            "postgresql:///openoms?host=/run/postgresql&schema=shop",
            {"dbname": "openoms", "host": "/run/postgresql"},
        ),
        (
            "postgres:///openoms?host=%2Frun%2Fpostgresql&password=p%26w",
            {"dbname": "openoms", "host": "/run/postgresql", "password": "p&w"},
        ),
        (
            "postgresql://svc@db/openoms?sslmode=require&options=-c%20statement_timeout%3D5s",
            {
                "user": "svc",
                "host": "db",
                "dbname": "openoms",
                "sslmode": "require",
                "options": "-c statement_timeout=5s",
            },
        ),
    ],
)
def test_the_dsn_keeps_the_urls_meaning_for_libpq(url: str, conninfo: dict[str, str]) -> None:
    location = parse_state_url(url)

    assert isinstance(location, PostgresLocation)
    assert conninfo_to_dict(location.dsn) == conninfo
