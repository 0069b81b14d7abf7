"""ALLEGRO_IMPORT_MIN_SHARE and ALLEGRO_COMMANDS_MIN_SHARE (issue 15, item 5): checked when
the settings load (each 0..0.9, both together at most 1), one line naming the variable, and
handed to the Allegro client's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.allegro import AllegroClientConfig
from entrypoints.containers import allegro_config
from entrypoints.settings import ConfigurationError, load_settings

REQUIRED = {"ALLEGRO_CLIENT_ID": "app", "ALLEGRO_CLIENT_SECRET": "s3cr3t-value"}
SHARES = ("ALLEGRO_IMPORT_MIN_SHARE", "ALLEGRO_COMMANDS_MIN_SHARE")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in (*SHARES, "STATE_URL", "TOKEN_ENCRYPTION_KEY", "ALLEGRO_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return monkeypatch


def test_the_defaults_keep_half_for_the_import_and_a_fifth_for_the_commands(
    env: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()

    assert settings.allegro_import_min_share == 0.5
    assert settings.allegro_commands_min_share == 0.2


def test_the_shares_reach_the_allegro_client(env: pytest.MonkeyPatch) -> None:
    env.setenv("ALLEGRO_IMPORT_MIN_SHARE", "0.3")
    env.setenv("ALLEGRO_COMMANDS_MIN_SHARE", "0.6")

    config = allegro_config(load_settings())

    assert (config.import_min_share, config.commands_min_share) == (0.3, 0.6)


@pytest.mark.parametrize(("imports", "commands"), [("0.7", "0.3"), ("0.9", "0.1"), ("0", "0")])
def test_shares_that_sum_to_at_most_one_are_accepted(
    env: pytest.MonkeyPatch, imports: str, commands: str
) -> None:
    env.setenv("ALLEGRO_IMPORT_MIN_SHARE", imports)
    env.setenv("ALLEGRO_COMMANDS_MIN_SHARE", commands)

    settings = load_settings()

    assert settings.allegro_import_min_share == float(imports)
    assert settings.allegro_commands_min_share == float(commands)


@pytest.mark.parametrize("variable", SHARES)
@pytest.mark.parametrize("value", ["0.95", "1", "-0.1", "nan", "inf", "half"])
def test_a_share_outside_zero_to_nine_tenths_names_its_variable(
    env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    env.setenv(variable, value)

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


def test_shares_summing_past_one_name_both_variables(env: pytest.MonkeyPatch) -> None:
    env.setenv("ALLEGRO_IMPORT_MIN_SHARE", "0.6")
    env.setenv("ALLEGRO_COMMANDS_MIN_SHARE", "0.5")

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    message = str(caught.value)
    assert "ALLEGRO_IMPORT_MIN_SHARE" in message
    assert "ALLEGRO_COMMANDS_MIN_SHARE" in message
    assert "exceed 1" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("imports", "commands"), [(0.6, 0.5), (0.95, 0.0), (0.0, -0.1), (float("nan"), 0.2)]
)
def test_the_client_configuration_refuses_the_same_shares(imports: float, commands: float) -> None:
    """The client is also built without the settings (tests, tools): it checks them too."""
    with pytest.raises(ValueError, match="min_share"):
        AllegroClientConfig(
            api_url="https://api.allegro.test",
            auth_url="https://allegro.test/auth/oauth",
            client_id="app",
            client_secret="s3cr3t-value",
            import_min_share=imports,
            commands_min_share=commands,
        )
