"""The embedded tansu broker's lifecycle: it serves Kafka, stops, restarts, never leaks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.kafka.admin import ensure_topics
from adapters.kafka.config import KafkaConfig
from sandbox.kafka_broker import EmbeddedBroker

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
START_BROKER_AND_REPORT = (
    "import sys\n"
    "from sandbox.kafka_broker import EmbeddedBroker\n"
    "broker = EmbeddedBroker().start()\n"
    "print(broker.pid, flush=True)\n"
    "if sys.argv[1] == 'wait':\n"
    "    sys.stdin.read()\n"
)


def is_gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie nobody reaps counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_until_gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while not is_gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def refuses_connections(bootstrap_servers: str) -> bool:
    host, port = bootstrap_servers.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return False
    except OSError:
        return True


@pytest.fixture
def leaked_pids() -> Iterator[list[int]]:
    """Brokers started by child processes; killed here should a test fail to see them go."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if not is_gone(pid):
            os.kill(pid, signal.SIGKILL)


async def test_serves_kafka_until_stopped() -> None:
    with EmbeddedBroker() as broker:
        pid = broker.pid
        assert pid is not None
        await ensure_topics(KafkaConfig(bootstrap_servers=broker.bootstrap_servers))

    assert not broker.running
    assert is_gone(pid)
    assert refuses_connections(broker.bootstrap_servers)


async def test_restarts_on_the_same_port_after_a_crash() -> None:
    broker = EmbeddedBroker().start()
    try:
        address = broker.bootstrap_servers
        broker.kill()
        assert refuses_connections(address)

        broker.start()

        assert broker.bootstrap_servers == address
        await ensure_topics(KafkaConfig(bootstrap_servers=address))
    finally:
        broker.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
@pytest.mark.parametrize(
    ("mode", "end_parent"),
    [
        ("exit", "interpreter exit"),
        ("wait", "SIGKILL"),
    ],
)
def test_the_broker_dies_with_the_process_that_started_it(
    mode: str, end_parent: str, leaked_pids: list[int]
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", START_BROKER_AND_REPORT, mode],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert parent.stdout is not None
    broker_pid = int(parent.stdout.readline())
    leaked_pids.append(broker_pid)

    if end_parent == "SIGKILL":
        parent.kill()
    parent.wait(timeout=30)

    assert wait_until_gone(broker_pid), f"tansu {broker_pid} outlived its parent ({end_parent})"
