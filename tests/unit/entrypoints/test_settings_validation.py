"""Settings checked at load time (issue 12, items 2 and 7): the default STATE_URL is absolute
wherever the command is started, and empty values mean unset."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.persistence import SqliteLocation, parse_state_url
from entrypoints.settings import ConfigurationError, load_settings

REQUIRED = {"ALLEGRO_CLIENT_ID": "app", "ALLEGRO_CLIENT_SECRET": "s3cr3t-value"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("STATE_URL", "XDG_STATE_HOME", "TOKEN_ENCRYPTION_KEY", "ALLEGRO_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def default_path() -> Path:
    location = parse_state_url(load_settings().state_url)
    assert isinstance(location, SqliteLocation)
    assert location.path is not None
    return location.path


def test_the_default_state_file_is_under_xdg_state_home(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("XDG_STATE_HOME", str(tmp_path / "xdg state"))

    assert default_path() == tmp_path / "xdg state" / "openoms-allegro" / "state.db"


@pytest.mark.parametrize("xdg", [None, "", "relative/state"], ids=["unset", "empty", "relative"])
def test_without_a_usable_xdg_state_home_it_is_under_the_home_directory(
    env: pytest.MonkeyPatch, tmp_path: Path, xdg: str | None
) -> None:
    if xdg is not None:
        env.setenv("XDG_STATE_HOME", xdg)

    expected = tmp_path / "home" / ".local" / "state" / "openoms-allegro" / "state.db"
    assert default_path() == expected


def test_the_default_does_not_depend_on_the_working_directory(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = default_path()
    (tmp_path / "elsewhere").mkdir()
    env.chdir(tmp_path / "elsewhere")

    assert default_path() == first
    assert first.is_absolute()


def test_an_empty_state_url_is_the_default(env: pytest.MonkeyPatch) -> None:
    env.setenv("STATE_URL", "")

    assert default_path().is_absolute()


def test_an_explicit_state_url_is_kept(env: pytest.MonkeyPatch) -> None:
    env.setenv("STATE_URL", "sqlite:////srv/state.db")

    assert load_settings().state_url == "sqlite:////srv/state.db"


@pytest.mark.parametrize(
    "name", ["TOKEN_ENCRYPTION_KEY", "ALLEGRO_REFRESH_TOKEN", "KAFKA_SASL_PASSWORD"]
)
def test_an_empty_secret_is_unset(env: pytest.MonkeyPatch, name: str) -> None:
    env.setenv(name, " ")

    assert getattr(load_settings(), name.lower()) is None


@pytest.mark.parametrize(("value", "level"), [("debug", "DEBUG"), ("Warn", "WARNING")])
def test_log_levels_are_read_in_any_case(env: pytest.MonkeyPatch, value: str, level: str) -> None:
    env.setenv("LOG_LEVEL", value)

    assert load_settings().log_level == level


def test_a_lower_case_mapping_key_is_a_known_status(env: pytest.MonkeyPatch) -> None:
    env.setenv("ALLEGRO_STATUS_MAPPING", '{"sent": "in_transit"}')

    assert load_settings().allegro_status_mapping == {"sent": "in_transit"}


def test_a_complete_sasl_configuration_is_accepted(env: pytest.MonkeyPatch) -> None:
    env.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    env.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    env.setenv("KAFKA_SASL_USERNAME", "svc")
    env.setenv("KAFKA_SASL_PASSWORD", "pw")

    assert load_settings().kafka_sasl_mechanism == "SCRAM-SHA-512"


def test_a_malformed_key_is_named_and_never_quoted(env: pytest.MonkeyPatch) -> None:
    env.setenv("TOKEN_ENCRYPTION_KEY", "not-a-key-but-a-secret")

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    assert str(caught.value).startswith("TOKEN_ENCRYPTION_KEY is not a Fernet key")
    assert "not-a-key-but-a-secret" not in str(caught.value)
