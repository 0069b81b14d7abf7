"""`openoms-allegro status`: the command path's line and JSON (on or off, topic, group, the
group's lag), read within its own deadline beside Allegro's part; and the offsets read from
a real broker without joining the group."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import OffsetAndMetadata

from adapters.kafka.config import KafkaConfig
from application.ports.offers import OfferCursor
from application.ports.state import TokenPair, TokenStore
from entrypoints.settings import Settings, load_settings
from entrypoints.status import (
    CommandPath,
    CommandTopicMissing,
    PartitionOffsets,
    gather_status,
    read_command_offsets,
)
from entrypoints.wiring import Wired
from tests.support.fakes import FakeClock
from tests.support.service import TEST_KEY
from tests.unit.entrypoints.test_status_report import make_report

TOPIC = "openoms.allegro.commands.v1"
GROUP = "openoms-allegro.shop"
MEASURED = CommandPath(
    True,
    TOPIC,
    GROUP,
    (PartitionOffsets(0, start=0, end=10, committed=7), PartitionOffsets(1, 4, 9, None)),
)


def test_the_table_ends_with_the_command_path() -> None:
    lines = make_report(commands=MEASURED).table().splitlines()

    assert lines[-1] == (
        f"commands        on: topic {TOPIC}, group {GROUP}, lag 8 record(s) in 2 partition(s)"
    )


@pytest.mark.parametrize(
    ("commands", "shown"),
    [
        (
            CommandPath(False, TOPIC, GROUP),
            f"off (COMMANDS_ENABLED=false); topic {TOPIC}, group {GROUP}",
        ),
        (
            CommandPath(True, TOPIC, GROUP, error="Kafka: no answer within 3 s"),
            f"on: topic {TOPIC}, group {GROUP}, lag unknown: Kafka: no answer within 3 s",
        ),
    ],
)
def test_the_line_says_off_or_why_the_lag_is_unknown(commands: CommandPath, shown: str) -> None:
    assert f"\ncommands        {shown}" in make_report(commands=commands).table()


def test_the_json_report_carries_the_command_path_per_partition() -> None:
    report = json.loads(json.dumps(make_report(commands=MEASURED).to_json()))

    assert report["commands"] == {
        "enabled": True,
        "topic": TOPIC,
        "group": GROUP,
        "lag": 8,
        "partitions": [
            {"partition": 0, "start": 0, "end": 10, "committed": 7, "lag": 3},
            {"partition": 1, "start": 4, "end": 9, "committed": None, "lag": 5},
        ],
        "error": None,
    }


@pytest.mark.parametrize(
    ("offsets", "lag"),
    [
        (PartitionOffsets(0, start=0, end=5, committed=5), 0),  # caught up
        (PartitionOffsets(0, start=2, end=5, committed=None), 3),  # new group: from the oldest
        (PartitionOffsets(0, start=4, end=5, committed=1), 1),  # its commit was deleted since
    ],
)
def test_the_lag_counts_from_where_the_group_would_read(
    offsets: PartitionOffsets, lag: int
) -> None:
    assert offsets.lag == lag


def settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "allegro_client_id": "app",
        "allegro_client_secret": "secret",
        "allegro_api_url": "http://127.0.0.1:9",  # nothing listens
        "allegro_auth_url": "http://127.0.0.1:9/auth/oauth",
        "allegro_account": "shop",
        "state_url": f"sqlite:///{tmp_path}/state.db",
        "token_encryption_key": TEST_KEY,
        "kafka_bootstrap_servers": "127.0.0.1:9",
        "offers_enabled": False,  # the order commands' path alone (the offers': below)
    }
    values.update(overrides)
    return load_settings(**values)


async def gathered(config: Settings, **options: object) -> CommandPath | None:
    wired = Wired(config)
    try:
        await wired.state_store()  # what `run` does first: the state exists
        report = await gather_status(config, wired, FakeClock(), **options)  # type: ignore[arg-type]
    finally:
        await wired.shutdown()
    return report.commands


async def test_status_reads_the_group_s_offsets_with_the_topic_and_group_of_run(
    tmp_path: Path,
) -> None:
    asked: list[tuple[str, str]] = []

    async def offsets(config: KafkaConfig, topic: str, group: str) -> tuple[PartitionOffsets, ...]:
        asked.append((topic, group))
        return (PartitionOffsets(0, 0, 4, 1),)

    commands = await gathered(
        settings(tmp_path, kafka_topic_commands="my.commands"), read_offsets=offsets
    )

    assert asked == [("my.commands", "openoms-allegro.shop")]
    assert commands == CommandPath(True, "my.commands", GROUP, (PartitionOffsets(0, 0, 4, 1),))


async def test_a_broker_that_never_answers_costs_the_deadline_and_is_said(tmp_path: Path) -> None:
    async def hanging(config: KafkaConfig, topic: str, group: str) -> tuple[PartitionOffsets, ...]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    commands = await asyncio.wait_for(  # bounded: a hung read would fail the test here
        gathered(settings(tmp_path), read_offsets=hanging, kafka_deadline=0.2), timeout=10
    )

    assert commands == CommandPath(True, TOPIC, GROUP, error="Kafka: no answer within 0.2 s")


async def test_an_unreachable_broker_is_said_in_a_few_words(tmp_path: Path) -> None:
    async def refused(config: KafkaConfig, topic: str, group: str) -> tuple[PartitionOffsets, ...]:
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9)]")

    commands = await gathered(settings(tmp_path), read_offsets=refused)

    assert commands is not None
    assert commands.error == "Kafka: unreachable (KafkaConnectionError)"


async def test_a_missing_command_topic_is_named(tmp_path: Path) -> None:
    async def missing(config: KafkaConfig, topic: str, group: str) -> tuple[PartitionOffsets, ...]:
        raise CommandTopicMissing(config.topic_commands)

    commands = await gathered(settings(tmp_path), read_offsets=missing)

    assert commands is not None
    assert commands.error == f"the topic {TOPIC} does not exist"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"commands_enabled": False}, CommandPath(False, TOPIC, GROUP)),
        (
            {"kafka_bootstrap_servers": ""},
            CommandPath(True, TOPIC, GROUP, error="KAFKA_BOOTSTRAP_SERVERS is not set"),
        ),
    ],
)
async def test_kafka_is_not_asked_when_commands_are_off_or_it_is_not_configured(
    tmp_path: Path, overrides: dict[str, object], expected: CommandPath
) -> None:
    async def never(config: KafkaConfig, topic: str, group: str) -> tuple[PartitionOffsets, ...]:
        raise AssertionError("Kafka was asked")

    assert await gathered(settings(tmp_path, **overrides), read_offsets=never) == expected


async def test_status_reads_the_offer_commands_group_and_the_offer_state(tmp_path: Path) -> None:
    asked: list[tuple[str, str]] = []

    async def offsets(config: KafkaConfig, topic: str, group: str) -> tuple[PartitionOffsets, ...]:
        asked.append((topic, group))
        return (PartitionOffsets(0, 0, 4, 1),)

    config = settings(tmp_path, offers_enabled=True, kafka_topic_offer_commands="my.offers")
    wired = Wired(config)
    try:
        await wired.state_store()
        await (await wired.offer_store()).commit_offers(
            "shop", OfferCursor("ev-7", datetime(2026, 3, 14, 12, tzinfo=UTC)), ()
        )
        report = await gather_status(config, wired, FakeClock(), read_offsets=offsets)
    finally:
        await wired.shutdown()

    assert sorted(asked) == [
        ("my.offers", "openoms-allegro.shop.offers"),
        (TOPIC, GROUP),
    ]
    assert report.offer_commands == CommandPath(
        True,
        "my.offers",
        "openoms-allegro.shop.offers",
        (PartitionOffsets(0, 0, 4, 1),),
        switch="OFFERS_ENABLED",
    )
    assert report.offers is not None
    assert report.offers.cursor == OfferCursor("ev-7", datetime(2026, 3, 14, 12, tzinfo=UTC))
    assert report.offers.pending_offers == 0
    table = report.table()
    assert "offers          offer events read up to ev-7" in table
    assert "offer commands  on: topic my.offers, group openoms-allegro.shop.offers, lag 3" in table


async def test_the_command_path_is_read_beside_allegro_not_after_it(tmp_path: Path) -> None:
    """Allegro and Kafka both hang: the report takes one deadline, not their sum."""

    kafka_entered: list[float] = []

    async def hanging(config: KafkaConfig, topic: str, group: str) -> tuple[PartitionOffsets, ...]:
        kafka_entered.append(time.monotonic())
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    # A listening socket that never answers: the kernel accepts, no HTTP response comes.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        config = settings(tmp_path, allegro_api_url=url, allegro_auth_url=f"{url}/auth/oauth")
        # The probe client checks the token's expiry against the real time.
        wired, clock = Wired(config), FakeClock(datetime.now(UTC))
        try:
            tokens: TokenStore = await wired.token_store()
            await tokens.save("shop", TokenPair("a", "r", clock.now() + timedelta(hours=12)))
            started = time.monotonic()
            report = await gather_status(
                config, wired, clock, allegro_deadline=1.0, kafka_deadline=1.0, read_offsets=hanging
            )
            seconds = time.monotonic() - started
        finally:
            await wired.shutdown()

    assert report.allegro.error == "no answer within 1 s"
    assert report.commands is not None
    assert report.commands.error == "Kafka: no answer within 1 s"
    # Side by side: the Kafka read began while Allegro's was still waiting out its 1 s (one
    # after the other, it would begin a full second in; no wall-clock bound on the whole).
    [entered] = kafka_entered
    assert entered - started < 1.0, entered - started
    assert seconds >= 1.0  # both waited out their deadlines


@pytest.mark.integration
@pytest.mark.timeout(60)
async def test_the_offsets_are_read_from_a_real_broker_without_joining_the_group(
    kafka_topics: KafkaConfig,
) -> None:
    topic, group = kafka_topics.topic_commands, f"test-group-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_topics.bootstrap_servers)
    await producer.start()
    try:
        for partition in (0, 0, 0, 1, 1):
            await producer.send_and_wait(topic, b"{}", key=b"k", partition=partition)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_topics.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])  # no subscription: the group is not joined
        await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "")})
    finally:
        await consumer.stop()

    offsets = await asyncio.wait_for(
        read_command_offsets(kafka_topics, kafka_topics.topic_commands, group), timeout=30
    )

    assert [(p.partition, p.committed, p.end, p.lag) for p in offsets] == [
        (0, 2, 3, 1),
        (1, None, 2, 2),
        (2, None, 0, 0),
    ]


@pytest.mark.integration
@pytest.mark.timeout(60)
async def test_a_missing_command_topic_is_reported_and_not_created(
    kafka_topics: KafkaConfig,
) -> None:
    missing = f"test.absent.{uuid.uuid4().hex}"

    with pytest.raises(CommandTopicMissing):
        await asyncio.wait_for(
            read_command_offsets(kafka_topics, missing, "test-group"), timeout=30
        )

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_topics.bootstrap_servers)
    await admin.start()
    try:
        assert missing not in await admin.list_topics()
    finally:
        await admin.close()
