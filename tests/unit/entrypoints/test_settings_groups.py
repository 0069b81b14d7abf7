"""Settings grouped by concern, and each limit defined once (issue 13, item 8).

Every variable belongs to exactly one group; a group loads from the environment on its own,
so the composition root hands each component only its concern. The limits the settings check
are the ones the use case and the Allegro adapters check: one constant each.
"""

from __future__ import annotations

import asyncio
from itertools import combinations

import pytest

from adapters.allegro.httpx_checkout_form_reader import search_params
from adapters.allegro.httpx_order_event_journal import HttpxOrderEventJournal
from application.ports.allegro import (
    JOURNAL_PAGE_SIZE,
    LIST_OFFSET_WINDOW,
    LIST_PAGE_SIZE,
    CheckoutFormQuery,
)
from application.sync_orders import MAX_PAGES_PER_BATCH, PAGES_PER_BATCH, SyncSettings
from entrypoints.containers import (
    allegro_config,
    kafka_config,
    state_backend,
)
from entrypoints.settings import (
    GROUPS,
    AllegroSettings,
    ConfigurationError,
    KafkaSettings,
    PollingSettings,
    ReconciliationSettings,
    Settings,
    StateSettings,
    load_settings,
)

REQUIRED = {"ALLEGRO_CLIENT_ID": "app", "ALLEGRO_CLIENT_SECRET": "s3cr3t-value"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    return monkeypatch


def test_every_variable_belongs_to_exactly_one_group() -> None:
    names = [set(group.model_fields) for group in GROUPS]

    for one, other in combinations(names, 2):
        assert not one & other, f"in two groups: {sorted(one & other)}"
    assert set().union(*names) == set(Settings.model_fields)
    assert all(issubclass(Settings, group) for group in GROUPS)


def test_a_group_loads_without_the_variables_of_the_others(env: pytest.MonkeyPatch) -> None:
    # No ALLEGRO_CLIENT_ID: Settings refuses to load, the Kafka group alone does not need it.
    env.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    env.setenv("KAFKA_COMPRESSION_TYPE", "zstd")
    with pytest.raises(ConfigurationError, match="ALLEGRO_CLIENT_ID is required"):
        load_settings()

    config = kafka_config(KafkaSettings())

    assert (config.bootstrap_servers, config.compression_type) == ("127.0.0.1:9092", "zstd")


def test_the_composition_root_reads_each_component_from_its_group(
    env: pytest.MonkeyPatch,
) -> None:
    for name, value in REQUIRED.items():
        env.setenv(name, value)
    env.setenv("ALLEGRO_ACCOUNT", "shop-2")
    env.setenv("STATE_URL", "postgresql://openoms@db/x")

    assert allegro_config(AllegroSettings()).account == "shop-2"
    assert state_backend(StateSettings()) == "postgres"


def test_a_group_checks_its_own_rules(env: pytest.MonkeyPatch) -> None:
    env.setenv("RECONCILE_LOOKBACK_HOURS", "100")
    env.setenv("RECONCILE_DEEP_LOOKBACK_DAYS", "2")

    with pytest.raises(ValueError, match="RECONCILE_DEEP_LOOKBACK_DAYS must reach further"):
        ReconciliationSettings()


def test_batch_pages_default_is_the_use_cases_constant(env: pytest.MonkeyPatch) -> None:
    assert PollingSettings().batch_pages == PAGES_PER_BATCH == 4
    assert PollingSettings().batch_size == JOURNAL_PAGE_SIZE == 1000


@pytest.mark.parametrize(
    ("variable", "value", "limit"),
    [
        ("BATCH_SIZE", JOURNAL_PAGE_SIZE, JOURNAL_PAGE_SIZE),
        ("BATCH_PAGES", MAX_PAGES_PER_BATCH, MAX_PAGES_PER_BATCH),
    ],
)
def test_the_settings_accept_up_to_the_limit_and_name_the_variable_past_it(
    env: pytest.MonkeyPatch, variable: str, value: int, limit: int
) -> None:
    for name, required in REQUIRED.items():
        env.setenv(name, required)
    env.setenv(variable, str(value))
    load_settings()

    env.setenv(variable, str(limit + 1))
    with pytest.raises(ConfigurationError, match=f"{variable}: .*{limit}"):
        load_settings()


def test_the_use_case_checks_the_same_journal_limits() -> None:
    SyncSettings(account="a", batch_size=JOURNAL_PAGE_SIZE, pages_per_batch=MAX_PAGES_PER_BATCH)

    with pytest.raises(ValueError, match=f"batch_size must be within 1..{JOURNAL_PAGE_SIZE}"):
        SyncSettings(account="a", batch_size=JOURNAL_PAGE_SIZE + 1)
    with pytest.raises(
        ValueError, match=f"pages_per_batch must be within 1..{MAX_PAGES_PER_BATCH}"
    ):
        SyncSettings(account="a", pages_per_batch=MAX_PAGES_PER_BATCH + 1)


def test_the_journal_adapter_checks_the_same_page_size() -> None:
    journal = HttpxOrderEventJournal(api=None)  # type: ignore[arg-type]  # refused before I/O

    with pytest.raises(ValueError, match=f"limit must be within 1..{JOURNAL_PAGE_SIZE}"):
        asyncio.run(journal.fetch(None, JOURNAL_PAGE_SIZE + 1))


def test_the_checkout_form_adapter_checks_the_ports_list_limits() -> None:
    assert search_params(CheckoutFormQuery(limit=LIST_PAGE_SIZE))["limit"] == str(LIST_PAGE_SIZE)

    with pytest.raises(ValueError, match=f"limit must be within 1..{LIST_PAGE_SIZE}"):
        search_params(CheckoutFormQuery(limit=LIST_PAGE_SIZE + 1))
    with pytest.raises(ValueError, match=f"within 0..{LIST_OFFSET_WINDOW}"):
        search_params(CheckoutFormQuery(limit=LIST_PAGE_SIZE, offset=LIST_OFFSET_WINDOW))
