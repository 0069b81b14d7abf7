from pathlib import Path

import pytest

from entrypoints.settings import COMPOSE_DEMO_KEY, ConfigurationError, load_settings

REQUIRED = {"ALLEGRO_CLIENT_ID": "app", "ALLEGRO_CLIENT_SECRET": "s3cr3t-value"}


@pytest.fixture
def env(monkeypatch):
    for name in ("ALLEGRO_API_URL", "ALLEGRO_AUTH_URL", "ALLEGRO_ENVIRONMENT", "STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_defaults_follow_the_product_specification(env):
    settings = load_settings()

    assert settings.api_url == "https://api.allegro.pl"
    assert settings.auth_url == "https://allegro.pl/auth/oauth"
    assert settings.allegro_account == "default"
    assert settings.allegro_start_from == "latest"
    assert settings.allegro_import_trigger == "READY_FOR_PROCESSING"
    assert (settings.allegro_rate_limit_per_minute, settings.allegro_rate_limit_burst) == (150, 5)
    assert settings.poll_interval_seconds == 15
    assert settings.kafka_enable_idempotence is True
    assert settings.kafka_topic_orders == "openoms.orders.v1"
    assert settings.kafka_topic_dlq == "openoms.orders.dlq.v1"
    assert settings.state_url.startswith("sqlite:////")  # absolute, whatever the folder
    assert settings.http_port == 8080


def test_sandbox_environment_picks_both_urls(env):
    env.setenv("ALLEGRO_ENVIRONMENT", "sandbox")

    settings = load_settings()

    assert settings.api_url == "https://api.allegro.pl.allegrosandbox.pl"
    assert settings.auth_url == "https://allegro.pl.allegrosandbox.pl/auth/oauth"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ALLEGRO_CLIENT_ID", None, "ALLEGRO_CLIENT_ID is required"),
        ("ALLEGRO_API_URL", "http://api.example.com", "ALLEGRO_API_URL must be an https://"),
        ("ALLEGRO_RATE_LIMIT_PER_MINUTE", "lots", "ALLEGRO_RATE_LIMIT_PER_MINUTE"),
        ("ALLEGRO_START_FROM", "yesterday", "ALLEGRO_START_FROM"),
        ("ALLEGRO_IMPORT_TRIGGER", "PAID", "ALLEGRO_IMPORT_TRIGGER"),
        ("ALLEGRO_ENVIRONMENT", "staging", "ALLEGRO_ENVIRONMENT"),
    ],
)
def test_bad_configuration_names_the_variable(env, name, value, message):
    if value is None:
        env.delenv(name)
    else:
        env.setenv(name, value)

    with pytest.raises(ConfigurationError, match=message):
        load_settings()


def test_plain_http_is_accepted_for_loopback_only(env):
    env.setenv("ALLEGRO_API_URL", "http://127.0.0.1:8000/")
    env.setenv("ALLEGRO_AUTH_URL", "http://localhost:8000/auth/oauth")

    settings = load_settings()

    assert settings.api_url == "http://127.0.0.1:8000"


def test_secrets_are_not_in_the_repr(env):
    assert "s3cr3t-value" not in repr(load_settings())


def test_operations_defaults(env):
    settings = load_settings()

    assert settings.lease_ttl_seconds == 30
    assert settings.lag_probe_seconds == 30
    assert settings.http_host == "127.0.0.1"  # only the container image listens on 0.0.0.0
    assert (settings.batch_size, settings.batch_pages) == (1000, 4)


@pytest.mark.parametrize(
    ("api_url", "auth_url"),
    [
        (None, None),  # production
        ("https://api.allegro.pl.allegrosandbox.pl", None),
        ("http://127.0.0.1:8000", "https://allegro.pl/auth/oauth"),
    ],
)
def test_the_compose_demo_key_is_refused_unless_allegro_is_the_local_simulator(
    env, api_url, auth_url
):
    env.setenv("TOKEN_ENCRYPTION_KEY", COMPOSE_DEMO_KEY)
    for name, value in (("ALLEGRO_API_URL", api_url), ("ALLEGRO_AUTH_URL", auth_url)):
        if value is not None:
            env.setenv(name, value)

    with pytest.raises(ConfigurationError, match="TOKEN_ENCRYPTION_KEY is docker-compose"):
        load_settings()


def test_the_compose_demo_key_is_accepted_for_the_local_simulator(env):
    env.setenv("TOKEN_ENCRYPTION_KEY", COMPOSE_DEMO_KEY)
    env.setenv("ALLEGRO_API_URL", "http://127.0.0.1:8000")
    env.setenv("ALLEGRO_AUTH_URL", "http://localhost:8000/auth/oauth")

    settings = load_settings()

    assert settings.token_encryption_key is not None


def test_the_demo_key_the_settings_refuse_is_the_one_compose_ships():
    compose = (Path(__file__).resolve().parents[3] / "docker-compose.yml").read_text()

    assert f'TOKEN_ENCRYPTION_KEY: "${{TOKEN_ENCRYPTION_KEY:-{COMPOSE_DEMO_KEY}}}"' in compose


def test_batch_pages_reach_the_sync_settings(env):
    from entrypoints.containers import _sync_settings

    env.setenv("BATCH_PAGES", "7")

    settings = load_settings()
    assert _sync_settings(settings, settings).pages_per_batch == 7


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LEASE_TTL_SECONDS", "0.5", "LEASE_TTL_SECONDS"),
        ("LAG_PROBE_SECONDS", "0", "LAG_PROBE_SECONDS"),
        ("BATCH_PAGES", "0", "BATCH_PAGES"),
        ("BATCH_PAGES", "21", "BATCH_PAGES"),
        ("STATE_URL", "mysql://db/openoms", "STATE_URL: unsupported state URL scheme"),
        ("STATE_URL", "postgresql://db/x?schema=Bad-Name", "STATE_URL: invalid PostgreSQL"),
    ],
)
def test_bad_operations_settings_name_the_variable(env, name, value, message):
    env.setenv(name, value)

    with pytest.raises(ConfigurationError, match=message):
        load_settings()


def test_a_state_url_password_is_not_in_the_repr(env):
    env.setenv("STATE_URL", "postgresql://openoms@db/x?password=hunter2")

    assert "hunter2" not in repr(load_settings())


def test_a_bad_state_url_never_shows_its_password(env):
    env.setenv("STATE_URL", "postgresql://openoms:hunter2@db/x?schema=Bad-Name")

    with pytest.raises(ConfigurationError) as raised:
        load_settings()

    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "gzip"), ("zstd", "zstd"), ("lz4", "lz4"), ("snappy", "snappy"), ("none", None)],
)
def test_kafka_compression_reaches_the_producer_config(env, value, expected):
    from entrypoints.containers import kafka_config

    env.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    if value is not None:
        env.setenv("KAFKA_COMPRESSION_TYPE", value)

    assert kafka_config(load_settings()).compression_type == expected


@pytest.mark.parametrize(("value", "expected"), [(None, 1_048_576), ("200000", 200_000)])
def test_kafka_max_message_bytes_reaches_the_producer_config(env, value, expected):
    from entrypoints.containers import kafka_config

    env.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    if value is not None:
        env.setenv("KAFKA_MAX_MESSAGE_BYTES", value)

    assert kafka_config(load_settings()).max_message_bytes == expected


def test_a_kafka_max_message_bytes_too_small_for_a_stub_names_the_variable(env):
    env.setenv("KAFKA_MAX_MESSAGE_BYTES", "16383")

    with pytest.raises(ConfigurationError, match="KAFKA_MAX_MESSAGE_BYTES"):
        load_settings()


def test_an_unknown_kafka_compression_names_the_variable(env):
    env.setenv("KAFKA_COMPRESSION_TYPE", "brotli")

    with pytest.raises(ConfigurationError, match="KAFKA_COMPRESSION_TYPE"):
        load_settings()


def test_the_deep_sweep_defaults_to_30_days_once_a_day(env):
    settings = load_settings()

    assert (settings.reconcile_deep_lookback_days, settings.reconcile_deep_interval_hours) == (
        30.0,
        24.0,
    )


def test_a_deep_sweep_that_reaches_no_further_than_the_light_one_is_refused(env):
    env.setenv("RECONCILE_LOOKBACK_HOURS", "96")
    env.setenv("RECONCILE_DEEP_LOOKBACK_DAYS", "4")

    with pytest.raises(ConfigurationError, match="RECONCILE_DEEP_LOOKBACK_DAYS must reach"):
        load_settings()

    env.setenv("RECONCILE_DEEP_INTERVAL_HOURS", "0")  # turned off: nothing to check
    assert load_settings().reconcile_deep_interval_hours == 0


@pytest.mark.parametrize("value", ["0", "-1", "400"])
def test_a_deep_lookback_out_of_range_names_the_variable(env, value):
    env.setenv("RECONCILE_DEEP_LOOKBACK_DAYS", value)

    with pytest.raises(ConfigurationError, match="RECONCILE_DEEP_LOOKBACK_DAYS"):
        load_settings()
