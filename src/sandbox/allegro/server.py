"""Serving the simulator over real HTTP: in a background thread, or in the foreground."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType

import uvicorn

from sandbox.allegro.app import build_app
from sandbox.allegro.config import SimulatorConfig
from sandbox.allegro.live import start_live_activity
from sandbox.allegro.oauth import VERIFICATION_PATH
from sandbox.allegro.state import SimulatorState

log = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown, so the process would die by the
    signal; `run_forever` handles the signals itself and returns, letting the CLI exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(state: SimulatorState) -> uvicorn.Config:
    return uvicorn.Config(
        build_app(state),
        lifespan="off",
        log_level="warning",
        access_log=False,
        # A hanging-fault request must not keep shutdown waiting for its full 30 s.
        timeout_graceful_shutdown=1,
    )


def _bind(host: str, port: int) -> socket.socket:
    """Bind before starting, so port 0 resolves to a real port we can report at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only turns Nagle off (TCP_NODELAY) for sockets that do,
    # and with Nagle on every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class SimulatorServer:
    """`with SimulatorServer(state) as server:` serves `state` at `server.url` until exit."""

    def __init__(self, state: SimulatorState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self._host = host
        self._port = port
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """REST base, e.g. `http://127.0.0.1:53211`; OAuth lives at `url + "/auth/oauth"`."""
        if self._sock is None:
            raise RuntimeError("the server is not running")
        port = self._sock.getsockname()[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{port}"

    @property
    def oauth_url(self) -> str:
        return self.url + "/auth/oauth"

    def start(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._sock = _bind(self._host, self._port)
        self._server = uvicorn.Server(_config(self.state))
        sock, server = self._sock, self._server

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported to the starting thread
                self._error = exc

        self._thread = threading.Thread(target=serve, name="allegro-simulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulator did not start: {self._error!r}")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        self._thread = None
        self._server = None

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def announcement(url: str, state: SimulatorState) -> str:
    """What `sandbox serve` prints once listening: the settings that point the service at
    this simulator, and how to approve the device code of `auth login` (OAuth device flow).

    Simulator-only credentials: they exist in this process's memory and nowhere else, so
    printing them is what makes the simulator usable, not a leak."""
    config = state.config
    approve = f"{url}{VERIFICATION_PATH}?code=USER_CODE"
    return "\n".join(
        [
            f"Allegro simulator listening on {url}",
            "Point the service at it (environment):",
            f"  ALLEGRO_API_URL={url}",
            f"  ALLEGRO_AUTH_URL={url}/auth/oauth",
            f"  ALLEGRO_CLIENT_ID={config.client_id}",
            f"  ALLEGRO_CLIENT_SECRET={config.client_secret}",
            f"  ALLEGRO_REFRESH_TOKEN={state.initial_refresh_token}",
            "Or run `openoms-allegro auth login` and approve the user code it shows",
            f"  in a browser:  {approve}  (Approve button)",
            f"  or with curl:  curl -X POST {url}/__sim/devices/USER_CODE",
            f"More refresh tokens: curl -X POST {url}/__sim/tokens; statistics: {url}/__sim/stats",
        ]
    )


def _announce(url: str, state: SimulatorState) -> None:
    print(announcement(url, state), flush=True)


DEMO_OFFERS = 40
DEMO_SKUS = 16


def run_forever(
    cfg: SimulatorConfig,
    host: str,
    port: int,
    *,
    orders: int,
    live: bool,
    live_interval_seconds: float = 2.0,
    on_ready: Callable[[str, SimulatorState], None] | None = None,
) -> None:
    """`openoms-allegro sandbox serve`: seed `orders` orders, serve until SIGINT/SIGTERM."""
    state = SimulatorState(cfg)
    if orders:
        state.script_mixed_lifecycles(orders, seed=cfg.seed)
        # A small shop's offers (several sharing a SKU, priced in Czechia too): the demo's
        # stock commands and the offer events it shows act on them.
        state.seed_offers(DEMO_OFFERS, DEMO_SKUS, ["allegro-cz"], seed=cfg.seed)
    sock = _bind(host, port)
    server = _QuietServer(_config(state))
    stop = threading.Event()
    if live:
        start_live_activity(state, live_interval_seconds, stop, seed=cfg.seed)
    bound = sock.getsockname()
    shown_host = f"[{host}]" if ":" in host else host
    (on_ready or _announce)(f"http://{shown_host}:{bound[1]}", state)
    log.info("simulator serving", extra={"port": bound[1], "orders": orders, "live": live})

    def request_exit(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, request_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop.set()
        sock.close()
