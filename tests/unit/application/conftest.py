"""Fakes shared by the use-case tests."""

import pytest

from tests.support.fakes import FakePublisher, FakeStateStore


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def state() -> FakeStateStore:
    return FakeStateStore()
