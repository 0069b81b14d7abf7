"""The one composition root: settings in, a wired service out.

Containers are split by role (core, gateways, use cases). Every client with a lifecycle is a
`providers.Resource` declared at its container's top level and resolved lazily, so only the
state backend that `STATE_URL` selects is ever opened. Nothing outside entrypoints/wiring.py
reads a provider: `Wired` there hands the objects out typed and closes what was opened. Use
cases never import this module.

`read_only=True` is for the tools that only look (`status`, `check`, `cursor show`,
`dead-letters list`): their stores never create nor migrate anything (see
adapters/persistence/resources.py), and a missing state is one StateStoreError.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Literal

from dependency_injector import containers, providers

from adapters.allegro import AllegroClient, AllegroClientConfig, allegro_client_resource
from adapters.allegro.offer_change_limit import offer_change_limiters
from adapters.kafka import AiokafkaEventPublisher, KafkaConfig
from adapters.kafka.aiokafka_command_source import (
    AiokafkaCommandSource,
    AiokafkaRecordSource,
    aiokafka_offer_command_source,
)
from adapters.kafka.aiokafka_event_publisher import PublishObserver
from adapters.kafka.commands import KafkaResultEncoder
from adapters.kafka.offers import KafkaOfferEncoder
from adapters.persistence import (
    LeaseFence,
    LeaseLost,
    PostgresLocation,
    SqliteLocation,
    TokenCipher,
    parse_state_url,
    sqlite_writer_lock_resource,
)
from adapters.persistence.resources import (
    postgres_lease_resource_for,
    postgres_offer_resource_for,
    postgres_state_resource_for,
    postgres_token_resource_for,
    sqlite_offer_resource_for,
    sqlite_state_resource_for,
    sqlite_token_resource_for,
)
from application.command_loop import CommandLoop, CommandStatus
from application.offer_events import OfferEvents, OfferEventSettings, OfferEventsStatus
from application.offer_sync import OfferSync, OfferSyncStatus
from application.poll_loop import LoopStatus, PollLoop
from application.ports import CheckoutFormReader, EventPublisher, OrderEventJournal, SystemClock
from application.ports.clock import Clock
from application.ports.offers import OfferStore
from application.ports.state import FailureLog, StateStore, TokenStore
from application.reconcile import ReconcileSettings
from application.sync_orders import SyncSettings
from domain.mapping import StatusMapping
from domain.offers import OfferCommand
from domain.policy import ImportPolicy
from entrypoints.assembly import (
    OrderImport,
    command_loop,
    offer_events,
    offer_sync,
    order_import,
)
from entrypoints.health import ServiceState
from entrypoints.metrics import Metrics
from entrypoints.settings import (
    AllegroSettings,
    KafkaSettings,
    PollingSettings,
    ReconciliationSettings,
    Settings,
    StateSettings,
)


def allegro_config(allegro: AllegroSettings) -> AllegroClientConfig:
    refresh = allegro.allegro_refresh_token
    return AllegroClientConfig(
        api_url=allegro.api_url,
        auth_url=allegro.auth_url,
        client_id=allegro.allegro_client_id,
        client_secret=allegro.allegro_client_secret.get_secret_value(),
        account=allegro.allegro_account,
        initial_refresh_token=refresh.get_secret_value() if refresh else None,
        rate_limit_per_minute=allegro.allegro_rate_limit_per_minute,
        rate_limit_burst=allegro.allegro_rate_limit_burst,
        timeout_seconds=allegro.allegro_timeout_seconds,
        retry_after_max_seconds=allegro.allegro_retry_after_max_seconds,
        max_body_bytes=allegro.allegro_max_body_bytes,
        import_min_share=allegro.allegro_import_min_share,
        commands_min_share=allegro.allegro_commands_min_share,
    )


def kafka_config(kafka: KafkaSettings) -> KafkaConfig:
    password = kafka.kafka_sasl_password
    return KafkaConfig(
        bootstrap_servers=kafka.require_kafka(),
        topic_orders=kafka.kafka_topic_orders,
        topic_dlq=kafka.kafka_topic_dlq,
        topic_commands=kafka.kafka_topic_commands,
        topic_command_results=kafka.kafka_topic_command_results,
        topic_offer_commands=kafka.kafka_topic_offer_commands,
        topic_offers=kafka.kafka_topic_offers,
        enable_idempotence=kafka.kafka_enable_idempotence,
        compression_type=(
            None if kafka.kafka_compression_type == "none" else kafka.kafka_compression_type
        ),
        security_protocol=kafka.kafka_security_protocol,
        sasl_mechanism=kafka.kafka_sasl_mechanism,
        sasl_username=kafka.kafka_sasl_username,
        sasl_password=password.get_secret_value() if password else None,
        ssl_cafile=kafka.kafka_ssl_cafile,
        ssl_certfile=kafka.kafka_ssl_certfile,
        ssl_keyfile=kafka.kafka_ssl_keyfile,
        max_message_bytes=kafka.kafka_max_message_bytes,
    )


def token_cipher(state: StateSettings) -> TokenCipher | None:
    key = state.token_encryption_key
    return TokenCipher.from_key(key.get_secret_value()) if key else None


Backend = Literal["sqlite", "postgres"]


def state_backend(state: StateSettings) -> Backend:
    location = parse_state_url(state.state_url)
    return "postgres" if isinstance(location, PostgresLocation) else "sqlite"


def sqlite_location(state: StateSettings) -> SqliteLocation:
    location = parse_state_url(state.state_url)
    assert isinstance(location, SqliteLocation)
    return location


def postgres_location(state: StateSettings) -> PostgresLocation:
    location = parse_state_url(state.state_url)
    assert isinstance(location, PostgresLocation)
    return location


async def kafka_publisher_resource(
    config: KafkaConfig, observer: PublishObserver | None = None
) -> AsyncIterator[AiokafkaEventPublisher]:
    publisher = AiokafkaEventPublisher(config, observer)
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.stop()


def event_publisher(producer: AiokafkaEventPublisher) -> EventPublisher:
    return producer


def _account(allegro: AllegroSettings) -> str:
    return allegro.allegro_account


def command_group(allegro: AllegroSettings) -> str:
    """The consumer group of an account's command path: one per account, so each account's
    service reads every command (and skips the other accounts')."""
    return f"openoms-allegro.{allegro.allegro_account}"


def offer_command_group(allegro: AllegroSettings) -> str:
    """The consumer group of an account's offer commands (apart from the order commands':
    each path commits its own offsets)."""
    return f"openoms-allegro.{allegro.allegro_account}.offers"


async def offer_command_source_resource(
    config: KafkaConfig, group: str, account: str
) -> AsyncIterator[AiokafkaRecordSource[OfferCommand]]:
    # The group is joined by the first `receive`, in the loop, where a stop interrupts it.
    source = aiokafka_offer_command_source(config, group, account)
    try:
        yield source
    finally:
        await source.stop()


async def command_source_resource(
    config: KafkaConfig, group: str, account: str
) -> AsyncIterator[AiokafkaCommandSource]:
    # The group is joined by the first `receive`, in the loop, where a stop interrupts it.
    source = AiokafkaCommandSource(config, config.topic_commands, group, account)
    try:
        yield source
    finally:
        await source.stop()


class Core(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    # True for the tools that only look: nothing is created or migrated (module docstring).
    read_only = providers.Dependency(instance_of=bool, default=False)
    clock = providers.Singleton(SystemClock)
    metrics = providers.Singleton(Metrics)
    loop_status = providers.Singleton(LoopStatus)
    service_state = providers.Singleton(ServiceState)
    # Set while this replica holds the account's lease; PostgreSQL commits check it.
    fence = providers.Singleton(LeaseFence)
    command_status = providers.Singleton(CommandStatus)
    offer_sync_status = providers.Singleton(OfferSyncStatus)
    # Allegro's per-user limits on offer changes, counted across the terms of this process.
    offer_change_limiters = providers.Singleton(offer_change_limiters)
    offer_events_status = providers.Singleton(OfferEventsStatus)


class Gateways(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()

    # Chosen once per container; every branch on the backend reads this (entrypoints/wiring.py).
    backend = providers.Singleton(state_backend, core.settings)
    cipher = providers.Singleton(token_cipher, core.settings)

    sqlite_state = providers.Resource(
        sqlite_state_resource_for,
        providers.Callable(sqlite_location, core.settings),
        core.read_only,
    )
    postgres_state = providers.Resource(
        postgres_state_resource_for,
        providers.Callable(postgres_location, core.settings),
        core.fence,
        core.read_only,
    )
    leases = providers.Resource(
        postgres_lease_resource_for,
        providers.Callable(postgres_location, core.settings),
        core.read_only,
    )
    # SQLite's counterpart of the lease: one writer per state file (held by the runtime).
    writer_lock = providers.Resource(
        sqlite_writer_lock_resource, providers.Callable(sqlite_location, core.settings)
    )
    sqlite_tokens = providers.Resource(
        sqlite_token_resource_for,
        providers.Callable(sqlite_location, core.settings),
        cipher,
        core.read_only,
    )
    postgres_tokens = providers.Resource(
        postgres_token_resource_for,
        providers.Callable(postgres_location, core.settings),
        cipher,
        core.read_only,
    )
    sqlite_offers = providers.Resource(
        sqlite_offer_resource_for,
        providers.Callable(sqlite_location, core.settings),
        core.read_only,
    )
    postgres_offers = providers.Resource(
        postgres_offer_resource_for,
        providers.Callable(postgres_location, core.settings),
        core.fence,
        core.read_only,
    )
    offer_store: providers.Provider[OfferStore] = providers.Selector(
        backend, sqlite=sqlite_offers, postgres=postgres_offers
    )
    state_store: providers.Provider[StateStore] = providers.Selector(
        backend, sqlite=sqlite_state, postgres=postgres_state
    )
    token_store: providers.Provider[TokenStore] = providers.Selector(
        backend, sqlite=sqlite_tokens, postgres=postgres_tokens
    )

    allegro = providers.Resource(
        allegro_client_resource,
        providers.Callable(allegro_config, core.settings),
        token_store,
        observer=core.metrics,
        offer_limiters=core.offer_change_limiters,
    )
    kafka_publisher = providers.Resource(
        kafka_publisher_resource, providers.Callable(kafka_config, core.settings), core.metrics
    )
    # Per term, like `allegro`: the leader applies the commands (entrypoints/runtime.py).
    command_source = providers.Resource(
        command_source_resource,
        providers.Callable(kafka_config, core.settings),
        providers.Callable(command_group, core.settings),
        providers.Callable(_account, core.settings),
    )
    offer_command_source = providers.Resource(
        offer_command_source_resource,
        providers.Callable(kafka_config, core.settings),
        providers.Callable(offer_command_group, core.settings),
        providers.Callable(_account, core.settings),
    )
    # What the use cases publish through: the producer itself, as the port. A provider of
    # its own so that a test can wrap it (`Application.gateways.publisher.override(...)`,
    # see tests/support/failpoints.py) while health checks and shutdown keep the producer.
    publisher = providers.Callable(event_publisher, kafka_publisher)


def _policy(allegro: AllegroSettings) -> ImportPolicy:
    return ImportPolicy(
        account=allegro.allegro_account,
        trigger=allegro.allegro_import_trigger,
        mapping=StatusMapping.with_overrides(allegro.allegro_status_mapping),
    )


def _sync_settings(allegro: AllegroSettings, polling: PollingSettings) -> SyncSettings:
    return SyncSettings(
        account=allegro.allegro_account,
        start_from=allegro.allegro_start_from,
        batch_size=polling.batch_size,
        pages_per_batch=polling.batch_pages,
        max_attempts=polling.dead_letter_after_attempts,
        bulk_reads=allegro.allegro_bulk_reads,
    )


def _reconcile_settings(
    allegro: AllegroSettings, reconciliation: ReconciliationSettings
) -> ReconcileSettings:
    every = reconciliation.reconcile_interval_seconds
    deep = reconciliation.reconcile_deep_interval_hours
    return ReconcileSettings(
        account=allegro.allegro_account,
        light_every=timedelta(seconds=every) if every > 0 else None,
        light_lookback=timedelta(hours=reconciliation.reconcile_lookback_hours),
        deep_every=timedelta(hours=deep) if deep > 0 else None,
        deep_lookback=timedelta(days=reconciliation.reconcile_deep_lookback_days),
    )


def _command_loop(
    source: AiokafkaCommandSource,
    client: AllegroClient,
    publisher: EventPublisher,
    kafka: KafkaSettings,
    allegro: AllegroSettings,
    clock: Clock,
    status: CommandStatus,
) -> CommandLoop:
    return command_loop(
        source,
        client.command_forms,
        client.orders,
        publisher,
        KafkaResultEncoder(kafka.kafka_max_message_bytes),
        allegro.allegro_account,
        clock,
        status=status,
    )


def _offer_sync(
    source: AiokafkaRecordSource[OfferCommand],
    client: AllegroClient,
    store: OfferStore,
    publisher: EventPublisher,
    kafka: KafkaSettings,
    allegro: AllegroSettings,
    clock: Clock,
    status: OfferSyncStatus,
) -> OfferSync:
    return offer_sync(
        source,
        client.command_offer_catalog,
        client.offer_writer,
        store,
        publisher,
        KafkaResultEncoder(kafka.kafka_max_message_bytes),
        allegro.allegro_account,
        clock,
        status=status,
    )


def _offer_events(
    client: AllegroClient,
    store: OfferStore,
    publisher: EventPublisher,
    kafka: KafkaSettings,
    allegro: AllegroSettings,
    clock: Clock,
    status: OfferEventsStatus,
) -> OfferEvents:
    return offer_events(
        client.offer_journal,
        client.offer_catalog,
        store,
        publisher,
        KafkaOfferEncoder(kafka.kafka_max_message_bytes),
        allegro.allegro_account,
        clock,
        settings=OfferEventSettings(poll_seconds=kafka.offer_events_poll_seconds),
        status=status,
    )


def _poll_interval(polling: PollingSettings) -> float:
    return polling.poll_interval_seconds


def _journal(client: AllegroClient) -> OrderEventJournal:
    return client.journal


def _forms(client: AllegroClient) -> CheckoutFormReader:
    return client.forms


def _poll_loop(
    imports: OrderImport,
    clock: Clock,
    idle_seconds: float,
    status: LoopStatus,
    observer: Metrics,
    error_log: FailureLog,
) -> PollLoop:
    """The loop around one `OrderImport`: its journal path and its reconciler share one
    pipeline (see entrypoints/assembly.py)."""
    return PollLoop(
        imports.sync,
        clock,
        idle_seconds=idle_seconds,
        status=status,
        reconciler=imports.reconciler,
        observer=observer,
        error_log=error_log,
        stop_on=(LeaseLost,),  # back to standby: another replica now polls the account
    )


class UseCases(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    gateways = providers.DependenciesContainer()

    policy = providers.Singleton(_policy, core.settings)
    # A new one per use: each term of polling gets its own, over that term's Allegro client.
    order_import = providers.Factory(
        order_import,
        journal=providers.Callable(_journal, gateways.allegro),
        forms=providers.Callable(_forms, gateways.allegro),
        publisher=gateways.publisher,
        state=gateways.state_store,
        policy=policy,
        settings=providers.Callable(_sync_settings, core.settings, core.settings),
        clock=core.clock,
        reconcile=providers.Callable(_reconcile_settings, core.settings, core.settings),
    )
    command_loop = providers.Factory(
        _command_loop,
        source=gateways.command_source,
        client=gateways.allegro,
        publisher=gateways.publisher,
        kafka=core.settings,
        allegro=core.settings,
        clock=core.clock,
        status=core.command_status,
    )
    offer_sync = providers.Factory(
        _offer_sync,
        source=gateways.offer_command_source,
        client=gateways.allegro,
        store=gateways.offer_store,
        publisher=gateways.publisher,
        kafka=core.settings,
        allegro=core.settings,
        clock=core.clock,
        status=core.offer_sync_status,
    )
    offer_events = providers.Factory(
        _offer_events,
        client=gateways.allegro,
        store=gateways.offer_store,
        publisher=gateways.publisher,
        kafka=core.settings,
        allegro=core.settings,
        clock=core.clock,
        status=core.offer_events_status,
    )
    poll_loop = providers.Factory(
        _poll_loop,
        order_import,
        clock=core.clock,
        idle_seconds=providers.Callable(_poll_interval, core.settings),
        status=core.loop_status,
        observer=core.metrics,
        error_log=gateways.state_store,
    )


class Application(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    read_only = providers.Dependency(instance_of=bool, default=False)
    core = providers.Container(Core, settings=settings, read_only=read_only)
    gateways = providers.Container(Gateways, core=core)
    use_cases = providers.Container(UseCases, core=core, gateways=gateways)


def build_container(settings: Settings, *, read_only: bool = False) -> Application:
    """`read_only`: for `status`, `check`, `cursor show`, `dead-letters list` (module doc).
    Used through entrypoints/wiring.py's `Wired`."""
    return Application(settings=settings, read_only=read_only)
