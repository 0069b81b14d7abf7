"""Helpers for the operational tests: free loopback ports, probes over real HTTP, a
PostgreSQL state URL on a throwaway schema, and the service's environment for them."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from adapters.kafka.config import KafkaConfig
from sandbox.allegro import SimulatorServer
from tests.integration.persistence.backends import throwaway_schema
from tests.support.service import service_env
from tests.unit.entrypoints.prometheus_text import parse_metrics

LOOPBACK = "127.0.0.1"
PROBE_TIMEOUT_SECONDS = 2.0


def free_port() -> int:
    """A port free right now on loopback (the service binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str) -> httpx.Response | None:
    """None while nothing answers on the port (the service is still starting)."""
    try:
        return httpx.get(f"http://{LOOPBACK}:{port}{path}", timeout=PROBE_TIMEOUT_SECONDS)
    except httpx.TransportError:
        return None


def readiness(port: int) -> dict[str, Any]:
    response = get(port, "/readyz")
    return {} if response is None else dict(response.json())


def role(port: int) -> str | None:
    value = readiness(port).get("role")
    return str(value) if value is not None else None


def metrics(port: int) -> dict[str, float]:
    """`name{labels}` -> value, from the Prometheus text format."""
    response = get(port, "/metrics")
    assert response is not None, f"nothing answers on port {port}"
    return parse_metrics(response.text)


def operations_env(
    server: SimulatorServer,
    refresh_token: str,
    kafka: KafkaConfig,
    state_url: str,
    http_port: int,
    **overrides: str,
) -> dict[str, str]:
    """The service against the simulator and the test broker, HTTP on loopback."""
    return service_env(
        server.url,
        server.state.config,
        refresh_token,
        kafka,
        Path("unused.db"),
        STATE_URL=state_url,
        HTTP_HOST=LOOPBACK,
        HTTP_PORT=str(http_port),
        POLL_INTERVAL_SECONDS="0.2",
        LAG_PROBE_SECONDS="0.3",
        **overrides,
    )


@asynccontextmanager
async def postgres_state_url() -> AsyncIterator[str]:
    """`STATE_URL` for a PostgreSQL schema of its own, dropped afterwards."""
    async with throwaway_schema() as location:
        separator = "&" if "?" in location.dsn else "?"
        yield f"{location.dsn}{separator}schema={location.schema}"
