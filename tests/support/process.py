"""`openoms-allegro run` as a long-running child process, watched through its JSON logs.

The service logs one JSON object per line on stderr (`LOG_FORMAT=json`); a reader thread
collects them as they come, so tests wait for a log line, a count of them or the exit,
always with a deadline, and never on a sleep.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sandbox.kafka_broker import die_with_parent

POLL_SECONDS = 0.02
KILLED = -signal.SIGKILL
CLI = "entrypoints.cli"
# The CLI with crash-test failpoints (`OPENOMS_FAILPOINTS`), see tests/support/failpoints.py.
FAILPOINT_CLI = "tests.support.failpoint_cli"
REPOSITORY = Path(__file__).resolve().parents[2]


def cwd_for(module: str) -> Path | None:
    """The CLI runs where the test runs; a module of `tests` runs where `tests` imports."""
    return None if module == CLI else REPOSITORY


class WaitTimeout(AssertionError):
    """A condition did not hold within its deadline."""


def wait_until(
    condition: Callable[[], bool], *, within: float, what: str, poll: float = POLL_SECONDS
) -> None:
    """Poll `condition` until it holds; raise `WaitTimeout` naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {within}s waiting for {what}")
        time.sleep(poll)


class ServiceProcess:
    """`python -m entrypoints.cli <args>` (or `module`) with its stdout and stderr read line
    by line."""

    def __init__(self, env: dict[str, str], *args: str, module: str = CLI) -> None:
        self.args = args or ("run",)
        self._lock = threading.Lock()
        self._stderr: list[str] = []
        self._stdout: list[str] = []
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *self.args],
            env=env,
            cwd=cwd_for(module),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            preexec_fn=die_with_parent(),  # no orphan outlives a test run
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            self._reader(self.process.stdout, self._stdout),
            self._reader(self.process.stderr, self._stderr),
        ]

    def _reader(self, stream: IO[str], sink: list[str]) -> threading.Thread:
        def pump() -> None:
            for line in stream:
                with self._lock:
                    sink.append(line.rstrip("\n"))

        thread = threading.Thread(target=pump, name=f"service-{self.pid}-reader", daemon=True)
        thread.start()
        return thread

    # ------------------------------------------------------------------ observation

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def stderr_lines(self) -> list[str]:
        with self._lock:
            return list(self._stderr)

    def stdout_lines(self) -> list[str]:
        with self._lock:
            return list(self._stdout)

    def logs(self) -> list[dict[str, Any]]:
        """The JSON log records so far (a traceback or other text is skipped)."""
        records = []
        for line in self.stderr_lines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    records.append(json.loads(line))
        return records

    def logs_with(self, message: str) -> list[dict[str, Any]]:
        return [record for record in self.logs() if record.get("message") == message]

    def count(self, message: str) -> int:
        return len(self.logs_with(message))

    def stderr_tail(self, chars: int = 4000) -> str:
        return "\n".join(self.stderr_lines())[-chars:]

    # ------------------------------------------------------------------ waiting

    def wait_for(
        self,
        condition: Callable[[], bool],
        *,
        within: float,
        what: str,
        alive: bool = True,
        poll: float = POLL_SECONDS,
    ) -> None:
        """Wait for `condition`; with `alive`, an exit before it holds fails at once."""

        def check() -> bool:
            if condition():
                return True
            if alive and not self.running:
                raise AssertionError(
                    f"service exited ({self.returncode}) while waiting for {what}:\n"
                    f"{self.stderr_tail()}"
                )
            return False

        try:
            wait_until(check, within=within, what=what, poll=poll)
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc}\n--- service stderr ---\n{self.stderr_tail()}") from None

    def wait_for_log(self, message: str, *, count: int = 1, within: float = 30.0) -> None:
        self.wait_for(
            lambda: self.count(message) >= count,
            within=within,
            what=f"{count} log line(s) {message!r}",
        )

    def wait_exit(self, within: float) -> int:
        """The exit code; raises `WaitTimeout` if the process still runs after `within` s."""
        try:
            code = self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            raise WaitTimeout(
                f"service still running {within}s later:\n{self.stderr_tail()}"
            ) from None
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def exits_within(self, seconds: float) -> bool:
        """True if the process ends within `seconds` (a bounded wait that may not end it)."""
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    # ------------------------------------------------------------------ signals

    def signal(self, sig: signal.Signals) -> None:
        if self.running:
            self.process.send_signal(sig)

    def terminate(self) -> None:
        self.signal(signal.SIGTERM)

    def kill(self) -> int:
        """SIGKILL (a crash) and reap; returns the exit code."""
        self.signal(signal.SIGKILL)
        return self.wait_exit(within=10)

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.running:
            self.kill()


@contextlib.contextmanager
def service_process(env: dict[str, str], *args: str) -> Iterator[ServiceProcess]:
    """A started service, SIGKILLed on the way out if it is still running."""
    with ServiceProcess(env, *args) as service:
        yield service
