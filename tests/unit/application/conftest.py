"""Fakes shared by the use-case tests."""

import pytest

from tests.support.fakes import InMemoryEventPublisher, MemoryStateStore


@pytest.fixture
def publisher() -> InMemoryEventPublisher:
    return InMemoryEventPublisher()


@pytest.fixture
def state() -> MemoryStateStore:
    return MemoryStateStore()
