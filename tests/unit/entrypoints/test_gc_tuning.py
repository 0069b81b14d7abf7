"""The collector is tuned for a long-running import: start-up frozen, rarer collections."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from entrypoints import cli, cli_support
from entrypoints.gc_tuning import THRESHOLDS, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tuning_freezes_what_start_up_built_and_raises_the_thresholds(restored_gc) -> None:
    gc.unfreeze()
    built_at_start_up = object.__new__(type("Wiring", (), {}))

    tune_gc()

    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert not any(o is built_at_start_up for o in gc.get_objects())  # out of sight


def test_a_cycle_made_after_tuning_is_still_collected_automatically(restored_gc) -> None:
    class Node:
        pass

    tune_gc()
    node = Node()
    node.self = node  # type: ignore[attr-defined]
    gone = weakref.ref(node)
    del node
    kept = [[] for _ in range(THRESHOLDS[0] * 2)]  # enough allocations for a young collection

    assert gc.isenabled()
    assert gone() is None
    assert len(kept) == THRESHOLDS[0] * 2


@pytest.mark.parametrize(("command", "tuned"), [("run", True), ("status", False)])
def test_long_running_commands_tune_the_collector(monkeypatch, command, tuned) -> None:
    calls: list[str] = []
    monkeypatch.setattr(cli_support, "tune_gc", lambda: calls.append("tuned"))
    monkeypatch.setattr(cli_support.asyncio, "run", lambda coro: coro.close())

    CliRunner().invoke(cli.main, [command])

    assert calls == (["tuned"] if tuned else [])
