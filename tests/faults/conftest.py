"""Fixtures shared by the fault tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.kafka_broker import EmbeddedBroker, EmbeddedBrokerUnavailable


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of the test's own, which it may stop: the session broker is never stopped."""
    try:
        broker = EmbeddedBroker().start()
    except EmbeddedBrokerUnavailable as exc:
        pytest.skip(f"no embedded broker: {exc}")
    try:
        yield broker
    finally:
        broker.stop()
