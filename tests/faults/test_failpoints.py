"""The failpoints are off unless asked for, and a misspelt one fails loudly (a crash test
whose failpoint never fires would pass while proving nothing)."""

from __future__ import annotations

import pytest

from entrypoints.failpoints import CrashingPublisher, parse, wrap_publisher
from tests.support.builders import make_order_imported
from tests.support.fakes import InMemoryEventPublisher


def test_no_spec_leaves_the_publisher_alone():
    publisher = InMemoryEventPublisher()

    assert wrap_publisher(publisher, "") is publisher


def test_a_spec_names_failpoints_and_their_probabilities():
    assert parse("crash_after_publish:0.3, crash_before_publish") == {
        "crash_after_publish": 0.3,
        "crash_before_publish": 1.0,
    }


def test_an_unknown_failpoint_is_refused():
    with pytest.raises(ValueError, match="crash_afterpublish"):
        parse("crash_afterpublish:0.3")


async def test_a_failpoint_at_probability_zero_passes_everything_through():
    inner = InMemoryEventPublisher()
    publisher = wrap_publisher(inner, "crash_after_publish:0,crash_before_publish:0")
    event = make_order_imported()

    await publisher.publish([event])

    assert isinstance(publisher, CrashingPublisher)
    assert inner.published == [event]
