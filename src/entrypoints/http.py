"""Liveness, readiness and metrics over HTTP (`HTTP_PORT`; 0 disables the listener).

`/healthz`: the process answers (liveness). `/readyz`: 200 when every check passes, 503
otherwise, with the checks and the replica's role in the body. `/metrics`: Prometheus.

The listener shares the process's file descriptors with Kafka, the state store and Allegro,
so what a client can hold is bounded (`HttpLimits`): connections beyond the limit are closed
at once, a connection that does not send a request head in time is closed, and `/readyz`
answers from a report at most `READINESS_TTL_SECONDS` old instead of probing the broker, the
state store and the token store on every hit.

The listening sockets are bound by `bind_listeners` before anything else starts (`run` binds
them before it opens the state store, Kafka or Allegro), so a port in use is one line naming
`HTTP_PORT` and exit 1, not a server that never starts. uvicorn gets `log_config=None`: it
installs no handler of its own, and its records go through the root handler (JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import ClassVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from application.ports.errors import PortError
from entrypoints.errors import StartupError
from entrypoints.health import Readiness
from entrypoints.metrics import CONTENT_TYPE, Metrics

ReadinessCheck = Callable[[], Awaitable[Readiness]]

READINESS_TTL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_connections: int = 32  # open at once; the next one is closed as soon as it is accepted
    header_timeout_seconds: float = 5.0  # from connecting (or the last response) to a head
    keep_alive_seconds: int = 5  # an idle connection after a response
    backlog: int = 64  # connections the kernel queues before the server accepts them


class CachedReadiness:
    """Answers from the last report while it is younger than `ttl_seconds`; hits that come
    while a probe runs wait for that probe instead of starting their own."""

    def __init__(
        self,
        check: ReadinessCheck,
        ttl_seconds: float = READINESS_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._report: Readiness | None = None
        self._probed_at = 0.0
        self._probe: asyncio.Future[Readiness] | None = None

    async def __call__(self) -> Readiness:
        fresh = self._monotonic() - self._probed_at < self._ttl
        if self._report is not None and fresh:
            return self._report
        if self._probe is None:
            self._probe = asyncio.create_task(self._run())
        # Shielded: a client that hangs up does not cancel the probe the others wait for.
        return await asyncio.shield(self._probe)

    async def _run(self) -> Readiness:
        started = self._monotonic()  # the report's age counts from when its probe began
        try:
            report = await self._check()
        finally:
            self._probe = None
        self._report, self._probed_at = report, started
        return report


def create_app(
    metrics: Metrics,
    readiness: ReadinessCheck,
    readiness_ttl_seconds: float = READINESS_TTL_SECONDS,
) -> Starlette:
    """A scrape refreshes what the gauges read (dependency-up, the stored token's expiry) from
    the same cached readiness report `/readyz` answers with: a scrape never probes more often
    than a `/readyz` hit does."""
    readiness = CachedReadiness(readiness, readiness_ttl_seconds)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        report = await readiness()
        return JSONResponse(report.body(), status_code=200 if report.ready else 503)

    async def metrics_endpoint(_: Request) -> Response:
        with contextlib.suppress(PortError, TimeoutError):
            async with asyncio.timeout(5):
                await readiness()
        return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
        ]
    )


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our event loop: the CLI owns the signals, not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class _GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with the two bounds it lacks: it keeps every connection it
    accepts, and waits for a request head forever (its keep-alive timer only runs between
    requests, and the first byte received stops it)."""

    limits: ClassVar[HttpLimits] = HttpLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            transport.close()  # connection_lost forgets it
            return
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        self._await_head()  # first: the call below may start a request already received
        super().on_response_complete()

    def _await_head(self) -> None:
        """Closes the connection unless a new request head arrives in time (a new cycle)."""
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(
            self.limits.header_timeout_seconds, self._head_overdue, self.cycle
        )

    def _head_overdue(self, cycle_when_armed: object) -> None:
        if self.cycle is cycle_when_armed and not self.transport.is_closing():
            self.transport.close()

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None


def server_config(app: Starlette, host: str, port: int, limits: HttpLimits) -> uvicorn.Config:
    protocol = type("GuardedH11Protocol", (_GuardedH11Protocol,), {"limits": limits})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        # uvicorn answers 503 once connections *or* requests in flight reach this; connections
        # stop at max_connections (the protocol), so this bounds the requests still running
        # for clients that hung up.
        limit_concurrency=limits.max_connections + 1,
        timeout_keep_alive=limits.keep_alive_seconds,
        backlog=limits.backlog,
        log_level="warning",
        log_config=None,  # no handlers of uvicorn's own: its records reach the root handler
        access_log=False,
    )


def bind_listeners(host: str, port: int) -> list[socket.socket]:
    """TCP sockets bound to (`HTTP_HOST`, `HTTP_PORT`), one per address the host name resolves
    to (as asyncio's create_server binds them: `localhost` may be ::1 and 127.0.0.1), not yet
    listening (uvicorn listens when it starts: until then a client is refused, not left
    waiting). Raises StartupError with one line naming the setting to change."""
    where = f"HTTP_PORT {port} on {host}"
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise StartupError(
            f"HTTP_HOST {host!r} is not an address of this machine ({exc}); "
            "use an IP address such as 127.0.0.1 or 0.0.0.0"
        ) from None
    bound: list[socket.socket] = []
    for family, kind, proto, _, address in dict.fromkeys(addresses):
        sock = socket.socket(family, kind, proto)
        bound.append(sock)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does
            if family == socket.AF_INET6:  # as asyncio does: "::" beside "0.0.0.0" is no clash
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
        except OSError as exc:
            for opened in bound:
                opened.close()
            raise StartupError(_bind_failure(where, host, exc)) from None
        sock.setblocking(False)
    return bound


def _bind_failure(where: str, host: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where} is in use by another process: stop it, or set HTTP_PORT to a free "
            "port (0 turns the HTTP endpoint off)"
        )
    if exc.errno == errno.EACCES:
        return (
            f"{where}: permission denied (ports below 1024 need privileges): "
            "set HTTP_PORT to a port above 1023"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"HTTP_HOST {host} is not an address of this machine: use one of its addresses, "
            "127.0.0.1 or 0.0.0.0"
        )
    return f"cannot listen on {where}: {exc.strerror or exc}"


class HttpEndpoint:
    """Serves `app` on `listeners` (from `bind_listeners`), or on sockets it binds itself when
    it starts; either way it closes them when it stops."""

    def __init__(
        self,
        app: Starlette,
        host: str,
        port: int,
        limits: HttpLimits | None = None,
        listeners: list[socket.socket] | None = None,
    ) -> None:
        self._server = _EmbeddedServer(server_config(app, host, port, limits or HttpLimits()))
        self._host, self._port = host, port
        self._listeners = listeners
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._listeners is None:
            self._listeners = bind_listeners(self._host, self._port)
        self._task = asyncio.create_task(self._server.serve(sockets=self._listeners))
        while not self._server.started:
            if self._task.done():
                await self._task  # surfaces why uvicorn did not start
                return
            await asyncio.sleep(0.01)

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return 0

    async def stop(self) -> None:
        self._server.should_exit = True
        try:
            if self._task is not None:
                await self._task
        finally:
            for listener in self._listeners or ():
                listener.close()  # uvicorn closes them too; this covers a failed start
