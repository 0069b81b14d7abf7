"""Liveness, readiness and metrics over HTTP (`HTTP_PORT`; 0 disables the listener).

`/healthz`: the process answers (liveness). `/readyz`: 200 when every check passes, 503
otherwise, with the checks and the replica's role in the body. `/metrics`: Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Generator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from application.ports.errors import PortError
from entrypoints.health import Readiness
from entrypoints.metrics import Metrics

ReadinessCheck = Callable[[], Awaitable[Readiness]]
BeforeScrape = Callable[[], Awaitable[object]]


def create_app(
    metrics: Metrics, readiness: ReadinessCheck, before_scrape: BeforeScrape | None = None
) -> Starlette:
    """`before_scrape` refreshes what the gauges read (e.g. the stored token's expiry)."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        report = await readiness()
        return JSONResponse(report.body(), status_code=200 if report.ready else 503)

    async def metrics_endpoint(_: Request) -> Response:
        if before_scrape is not None:
            with contextlib.suppress(PortError, TimeoutError):
                async with asyncio.timeout(5):
                    await before_scrape()
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

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


class HttpEndpoint:
    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                await self._task  # surfaces the bind error
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
        if self._task is not None:
            await self._task
