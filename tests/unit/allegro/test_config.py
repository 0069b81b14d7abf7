"""Configuration: loopback-only plain HTTP, and secrets kept out of repr."""

from __future__ import annotations

import pytest

from adapters.allegro.device_flow import DeviceAuthorization

from .fakes import CLIENT_SECRET, make_config


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.5.6.7",
        "http://localhost:9000/api",
        "http://LOCALHOST",
        "http://[::1]:8000",
        "https://api.allegro.pl",
        "https://api.allegro.pl.allegrosandbox.pl",
    ],
)
def test_accepted_urls(url: str) -> None:
    config = make_config(api_url=url, auth_url=url + "/auth/oauth")

    assert config.api_url == url
    assert config.token_url == url + "/auth/oauth/token"


@pytest.mark.parametrize(
    "url",
    ["http://api.allegro.pl", "http://10.0.0.5", "http://localhost.evil.com", "http://[::2]"],
)
@pytest.mark.parametrize("field", ["api_url", "auth_url"])
def test_plain_http_is_rejected_for_non_loopback_hosts(field: str, url: str) -> None:
    with pytest.raises(ValueError, match=rf"{field} uses plain http:// .*only loopback hosts"):
        make_config(**{field: url})


@pytest.mark.parametrize("url", ["ftp://example.com", "api.allegro.pl", "https://", ""])
def test_urls_must_be_absolute_http(url: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        make_config(api_url=url)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_limit_per_minute", 0),
        ("rate_limit_burst", 0),
        ("max_attempts", 0),
        ("timeout_seconds", 0.0),
        ("backoff_initial", -1.0),
        ("backoff_max", 0.5),
        ("rate_limit_block_seconds", -1.0),
        ("retry_after_max_seconds", 0.0),
        ("retry_after_max_seconds", float("nan")),
        ("client_id", ""),
        ("client_secret", ""),
    ],
)
def test_nonsensical_settings_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field.split("_")[0]):
        make_config(**{field: value})


def test_defaults() -> None:
    config = make_config()

    assert (config.account, config.initial_refresh_token) == ("default", None)
    assert (config.rate_limit_per_minute, config.rate_limit_burst) == (150, 5)
    assert (config.timeout_seconds, config.max_attempts) == (30.0, 6)
    assert (config.backoff_initial, config.backoff_max) == (1.0, 60.0)
    assert config.rate_limit_block_seconds == 60.0
    assert config.retry_after_max_seconds == 300.0


def test_secrets_are_absent_from_repr() -> None:
    config = make_config(initial_refresh_token="seed-refresh-token")

    text = repr(config)

    assert CLIENT_SECRET not in text
    assert "seed-refresh-token" not in text
    assert "client-id-123" in text


def test_the_device_code_is_absent_from_repr() -> None:
    auth = DeviceAuthorization("dev-code-secret", "abc123def", "https://x", None, 5.0, 3600.0)

    assert "dev-code-secret" not in repr(auth)
    assert "abc123def" in repr(auth)
