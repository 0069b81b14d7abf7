"""Startup and configuration errors as an operator meets them (issue 12, items 1, 2 and 7):
one line, the right exit code, nothing touched, and never a hang."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.service import TEST_KEY, run_cli

pytestmark = pytest.mark.integration

BOUND = 10.0  # seconds: every command here answers well within this


def clean_env(**values: str) -> dict[str, str]:
    """The environment without any of the service's settings, plus `values`."""
    prefixes = (
        *("ALLEGRO_", "KAFKA_", "STATE_", "TOKEN_", "HTTP_", "LOG_", "XDG_", "RECONCILE_"),
        *("POLL_", "BATCH_", "DEAD_LETTER_", "LEASE_", "LAG_", "OPENOMS_"),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(values)
    return env


@contextmanager
def listening_socket() -> Iterator[socket.socket]:
    """A loopback port held by this test; `accept()` tells whether anyone connected."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def nobody_connected(sock: socket.socket) -> bool:
    try:
        connection, _ = sock.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_run_with_its_http_port_taken_exits_1_naming_http_port_before_anything_else(
    tmp_path: Path,
) -> None:
    with listening_socket() as http, listening_socket() as allegro, listening_socket() as kafka:
        api_url = f"http://127.0.0.1:{port_of(allegro)}"
        env = clean_env(
            ALLEGRO_CLIENT_ID="app",
            ALLEGRO_CLIENT_SECRET="s",
            ALLEGRO_API_URL=api_url,
            ALLEGRO_AUTH_URL=f"{api_url}/auth/oauth",
            ALLEGRO_REFRESH_TOKEN="r",
            KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port_of(kafka)}",
            KAFKA_ENABLE_IDEMPOTENCE="false",
            STATE_URL=f"sqlite:///{tmp_path}/state.db",
            TOKEN_ENCRYPTION_KEY=TEST_KEY,
            HTTP_HOST="127.0.0.1",
            HTTP_PORT=str(port_of(http)),
        )

        started = time.monotonic()
        done = run_cli("run", env=env, timeout=BOUND)
        took = time.monotonic() - started

        assert done.returncode == 1, done.stderr
        line = one_line(done.stderr)
        assert line.startswith(f"error: HTTP_PORT {port_of(http)} on 127.0.0.1 is in use"), line
        assert took < BOUND
        assert nobody_connected(allegro), "run reached Allegro before binding its HTTP port"
        assert nobody_connected(kafka), "run reached Kafka before binding its HTTP port"
        assert not (tmp_path / "state.db").exists(), "run opened the state before its port"


def base_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """Valid settings for `run --once` (nothing listens on port 9: never reached here)."""
    settings = {
        "ALLEGRO_CLIENT_ID": "app",
        "ALLEGRO_CLIENT_SECRET": "s",
        "ALLEGRO_API_URL": "http://127.0.0.1:9",
        "ALLEGRO_AUTH_URL": "http://127.0.0.1:9/auth/oauth",
        "ALLEGRO_REFRESH_TOKEN": "r",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "STATE_URL": f"sqlite:///{tmp_path}/state.db",
        "TOKEN_ENCRYPTION_KEY": TEST_KEY,
        "HTTP_PORT": "0",
    }
    settings.update(values)
    return clean_env(**settings)


BAD_SETTINGS = [
    pytest.param("TOKEN_ENCRYPTION_KEY", "abc", id="key-not-fernet"),
    pytest.param("TOKEN_ENCRYPTION_KEY", "c2VjcmV0LWJ1dC10b28tc2hvcnQ=", id="key-short"),
    pytest.param("TOKEN_ENCRYPTION_KEY", "", id="key-empty"),
    pytest.param("TOKEN_ENCRYPTION_KEY", "   ", id="key-blank"),
    pytest.param("ALLEGRO_STATUS_MAPPING", '{"SENT": ', id="mapping-not-json"),
    pytest.param("ALLEGRO_STATUS_MAPPING", '["SENT"]', id="mapping-not-object"),
    pytest.param("ALLEGRO_STATUS_MAPPING", '{"SENT": "shipped_typo"}', id="mapping-value"),
    pytest.param("ALLEGRO_STATUS_MAPPING", '{"SHIPPED_TYPO": "shipped"}', id="mapping-key"),
    pytest.param("LOG_LEVEL", "LOUD", id="log-level"),
    pytest.param("LOG_FORMAT", "xml", id="log-format"),
    pytest.param("HTTP_HOST", "not a host", id="http-host"),
    pytest.param("HTTP_PORT", "70000", id="http-port"),
    pytest.param("ALLEGRO_CLIENT_SECRET", "", id="client-secret-empty"),
    pytest.param("KAFKA_BOOTSTRAP_SERVERS", "kafka:ninety", id="bootstrap"),
    pytest.param("KAFKA_TOPIC_ORDERS", "orders v1", id="topic-name"),
    pytest.param("KAFKA_TOPIC_DLQ", "openoms.orders.v1", id="topics-equal"),
    pytest.param("KAFKA_SASL_MECHANISM", "PLAIN", id="sasl-without-sasl-protocol"),
    pytest.param("KAFKA_SSL_CAFILE", "/etc/hostname", id="tls-file-without-tls"),
    pytest.param("STATE_URL", "mysql://db/state", id="state-url"),
    # One of each group (entrypoints/settings.py GROUPS) whose limit lives in another layer.
    pytest.param("BATCH_SIZE", "1001", id="batch-size-over-journal-page"),
    pytest.param("BATCH_PAGES", "21", id="batch-pages-over-maximum"),
    pytest.param("RECONCILE_DEEP_LOOKBACK_DAYS", "2", id="deep-sweep-shorter-than-light"),
    pytest.param("LEASE_TTL_SECONDS", "0", id="lease-ttl"),
]


@pytest.mark.parametrize(("variable", "value"), BAD_SETTINGS)
def test_a_bad_setting_exits_2_with_one_line_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    done = run_cli("run", "--once", env=base_env(tmp_path, **{variable: value}), timeout=BOUND)

    assert done.returncode == 2, done.stderr
    line = one_line(done.stderr)
    assert variable in line, line
    if variable == "TOKEN_ENCRYPTION_KEY" and value.strip():
        assert value not in line  # a secret, even a malformed one, is never echoed
    assert not (tmp_path / "state.db").exists()


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN"},
            "KAFKA_SASL_USERNAME",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "KAFKA_SASL_USERNAME": "svc",
            },
            "KAFKA_SASL_PASSWORD",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "CAFILE"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEYFILE": "/etc/hostname"}, "CERTFILE"),
    ],
    ids=["no-mechanism", "no-username", "no-password", "missing-ca", "key-without-cert"],
)
def test_kafka_security_combinations_are_checked_at_load(
    tmp_path: Path, values: dict[str, str], variable: str
) -> None:
    done = run_cli("run", "--once", env=base_env(tmp_path, **values), timeout=BOUND)

    assert done.returncode == 2, done.stderr
    assert variable in one_line(done.stderr)


def without_tokens(tmp_path: Path, **values: str) -> dict[str, str]:
    env = base_env(tmp_path, ALLEGRO_ACCOUNT="shop", **values)
    del env["ALLEGRO_REFRESH_TOKEN"]
    return env


@pytest.mark.parametrize(
    "command",
    [("run", "--once"), ("run",), ("backfill", "--since", "2026-01-01")],
    ids=["run-once", "run", "backfill"],
)
def test_a_writer_with_no_tokens_at_all_exits_1_and_says_how_to_get_them(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    state = tmp_path / "state.db"

    done = run_cli(*command, env=without_tokens(tmp_path), timeout=BOUND)

    assert done.returncode == 1, done.stderr
    assert one_line(done.stderr) == (
        f"error: no tokens stored for account shop in sqlite:///{state} (STATE_URL): run "
        "`openoms-allegro auth login` (or set ALLEGRO_REFRESH_TOKEN)"
    )
    assert not state.exists(), "a command that cannot run created the state"


def test_no_tokens_in_a_postgres_state_names_it_without_the_password() -> None:
    from tests.integration.persistence.backends import POSTGRES_DSN

    user_at = POSTGRES_DSN.removeprefix("postgresql://").partition("@")
    dsn = f"postgresql://{user_at[0]}:hunter2@{user_at[2]}"
    url = f"{dsn}?schema=test_never_created_by_openoms"

    done = run_cli("run", "--once", env=without_tokens(Path("/nonexistent"), STATE_URL=url))

    assert done.returncode == 1, done.stderr
    line = one_line(done.stderr)
    assert line.startswith("error: no tokens stored for account shop in postgresql://"), line
    assert "hunter2" not in line
    assert ":***@" in line


def test_status_with_no_state_says_so_and_creates_nothing(tmp_path: Path) -> None:
    """A read-only command (build_container(read_only=True)) never creates the state."""
    state = tmp_path / "nowhere" / "state.db"
    env = without_tokens(tmp_path, STATE_URL=f"sqlite:///{state}")

    done = run_cli("status", env=env, timeout=BOUND)

    assert done.returncode == 1, done.stderr
    line = one_line(done.stderr)
    assert f"no state at {state} (STATE_URL)" in line, line
    assert not state.parent.exists()
