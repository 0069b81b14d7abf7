"""The failpoints are test code, off unless asked for, and a misspelt one fails loudly (a
crash test whose failpoint never fires would pass while proving nothing). The production
composition root publishes through the Kafka producer itself, whatever the environment says;
the failpoint CLI wraps it through the container's own override hook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dependency_injector import providers

from application.ports import EventPublisher
from application.ports.publisher import publish
from entrypoints.settings import Settings, load_settings
from entrypoints.wiring import Wired
from tests.support.builders import make_order_imported
from tests.support.failpoints import CrashingPublisher, install, parse, uninstall, wrap_publisher
from tests.support.fakes import InMemoryEventPublisher
from tests.support.process import FAILPOINT_CLI
from tests.support.service import TEST_KEY, run_cli


def test_no_spec_leaves_the_publisher_alone() -> None:
    publisher = InMemoryEventPublisher()

    assert wrap_publisher(publisher, "") is publisher


def test_a_spec_names_failpoints_and_their_probabilities() -> None:
    assert parse("crash_after_publish:0.3, crash_before_publish") == {
        "crash_after_publish": 0.3,
        "crash_before_publish": 1.0,
    }


def test_an_unknown_failpoint_is_refused() -> None:
    with pytest.raises(ValueError, match="crash_afterpublish"):
        parse("crash_afterpublish:0.3")


async def test_a_failpoint_at_probability_zero_passes_everything_through() -> None:
    inner = InMemoryEventPublisher()
    publisher = wrap_publisher(inner, "crash_after_publish:0,crash_before_publish:0")
    event = make_order_imported()

    await publish(publisher, [event])

    assert isinstance(publisher, CrashingPublisher)
    assert inner.published == [event]


def settings_at(tmp_path: Path) -> Settings:
    """Settings from these values and the environment."""
    return load_settings(
        allegro_client_id="app",
        allegro_client_secret="secret",
        allegro_account="shop",
        state_url=f"sqlite:///{tmp_path}/state.db",
        token_encryption_key=TEST_KEY,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_at(tmp_path)


@pytest.fixture
def installed() -> Iterator[None]:
    install("crash_after_publish:0")
    try:
        yield
    finally:
        uninstall()


async def publisher_of(wired: Wired, producer: EventPublisher) -> EventPublisher:
    """What the use cases publish through, with `producer` standing in for Kafka's."""
    wired.container.gateways.kafka_publisher.override(providers.Object(producer))
    try:
        return await wired.publisher()
    finally:
        await wired.shutdown()


async def test_the_production_container_publishes_through_the_producer_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a crash test sets: it must not reach the production wiring (only the test CLI's).
    monkeypatch.setenv("OPENOMS_FAILPOINTS", "crash_after_publish:0")
    producer = InMemoryEventPublisher()

    assert await publisher_of(Wired(settings_at(tmp_path)), producer) is producer


async def test_installed_failpoints_wrap_the_producer_of_every_container_built_later(
    settings: Settings, installed: None
) -> None:
    producer = InMemoryEventPublisher()
    event = make_order_imported()

    first = await publisher_of(Wired(settings), producer)
    second = await publisher_of(Wired(settings, read_only=True), producer)
    await publish(first, [event])

    assert isinstance(first, CrashingPublisher)
    assert isinstance(second, CrashingPublisher)
    assert producer.published == [event]


async def test_uninstalled_failpoints_leave_later_containers_alone(settings: Settings) -> None:
    install("crash_before_publish")
    uninstall()
    producer = InMemoryEventPublisher()

    assert await publisher_of(Wired(settings), producer) is producer


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [("", "OPENOMS_FAILPOINTS is empty"), ("crash_afterpublish", "'crash_afterpublish'")],
)
def test_the_failpoint_cli_refuses_a_spec_that_would_crash_nothing(
    spec: str, complaint: str
) -> None:
    done = run_cli("--version", env={"OPENOMS_FAILPOINTS": spec}, module=FAILPOINT_CLI, timeout=60)

    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert complaint in done.stderr
