"""Kafka connection and topic settings, and the aiokafka options they translate to."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from aiokafka.helpers import create_ssl_context

from adapters.kafka.messages import DEFAULT_MAX_MESSAGE_BYTES, MIN_MAX_MESSAGE_BYTES

SECURITY_PROTOCOLS = frozenset({"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"})
SASL_MECHANISMS = frozenset({"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"})
COMPRESSION_TYPES = frozenset({"gzip", "snappy", "lz4", "zstd"})


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    """Where and how to publish. Secrets never appear in `repr` (and so never in logs)."""

    bootstrap_servers: str
    topic_orders: str = "openoms.orders.v1"
    topic_dlq: str = "openoms.orders.dlq.v1"
    topic_commands: str = "openoms.allegro.commands.v1"  # read: OpenOMS's commands
    topic_command_results: str = "openoms.allegro.command-results.v1"  # orders' and offers'
    topic_offers: str = "openoms.offers.v1"  # OfferChanged
    topic_offer_commands: str = "openoms.allegro.offer-commands.v1"  # read: SetStock, SetPrice
    enable_idempotence: bool = True
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    compression_type: str | None = "gzip"
    linger_ms: int = 5
    request_timeout_ms: int = 30_000
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """Largest record published, as `messages.record_size` measures it; a larger event goes
    to the dead-letter topic as a truncated stub. Keep it no higher than the topics' (or the
    broker's) `max.message.bytes`."""
    client_id: str = "openoms-allegro"

    def __post_init__(self) -> None:
        if not self.bootstrap_servers.strip():
            raise ValueError("bootstrap_servers must not be empty")
        if not self.topic_orders or not self.topic_dlq:
            raise ValueError("topic names must not be empty")
        topics = (
            self.topic_orders,
            self.topic_dlq,
            self.topic_commands,
            self.topic_command_results,
            self.topic_offers,
            self.topic_offer_commands,
        )
        if not all(topics):
            raise ValueError("topic names must not be empty")
        if len(set(topics)) != len(topics):
            raise ValueError(
                "the orders, dead-letter, commands, command-results, offers and offer-commands "
                "topics must differ"
            )
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ValueError(
                f"security_protocol must be one of {sorted(SECURITY_PROTOCOLS)}, "
                f"got {self.security_protocol!r}"
            )
        if self.uses_sasl:
            self._check_sasl()
        self._check_tls_files()
        if self.compression_type is not None and self.compression_type not in COMPRESSION_TYPES:
            raise ValueError(
                f"compression_type must be one of {sorted(COMPRESSION_TYPES)} or None, "
                f"got {self.compression_type!r}"
            )
        if self.linger_ms < 0:
            raise ValueError("linger_ms must not be negative")
        if self.request_timeout_ms <= 0:
            raise ValueError("request_timeout_ms must be positive")
        if self.max_message_bytes < MIN_MAX_MESSAGE_BYTES:
            raise ValueError(
                f"max_message_bytes must be at least {MIN_MAX_MESSAGE_BYTES}, "
                f"got {self.max_message_bytes}"
            )

    def _check_sasl(self) -> None:
        if self.sasl_mechanism not in SASL_MECHANISMS:
            raise ValueError(
                f"sasl_mechanism must be one of {sorted(SASL_MECHANISMS)} with "
                f"{self.security_protocol}, got {self.sasl_mechanism!r}"
            )
        if not self.sasl_username or self.sasl_password is None:
            raise ValueError(f"{self.security_protocol} needs sasl_username and sasl_password")

    def _check_tls_files(self) -> None:
        files = (self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile)
        if any(files) and not self.uses_tls:
            raise ValueError(
                f"TLS files are set but security_protocol is {self.security_protocol} "
                "(use SSL or SASL_SSL)"
            )
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ValueError("ssl_keyfile needs ssl_certfile")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")


def ssl_context(config: KafkaConfig) -> ssl.SSLContext | None:
    """A TLS context from the configured files (system trust store when no CA file is given)."""
    if not config.uses_tls:
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=config.ssl_cafile,
        certfile=config.ssl_certfile,
        keyfile=config.ssl_keyfile,
    )
    return context


def connection_options(config: KafkaConfig) -> dict[str, Any]:
    """Keyword arguments shared by every aiokafka client (producer, admin, consumer)."""
    options: dict[str, Any] = {
        "bootstrap_servers": config.bootstrap_servers,
        "client_id": config.client_id,
        "request_timeout_ms": config.request_timeout_ms,
        "security_protocol": config.security_protocol,
    }
    context = ssl_context(config)
    if context is not None:
        options["ssl_context"] = context
    if config.uses_sasl:
        options["sasl_mechanism"] = config.sasl_mechanism
        options["sasl_plain_username"] = config.sasl_username
        options["sasl_plain_password"] = config.sasl_password
    return options


def producer_options(config: KafkaConfig) -> dict[str, Any]:
    """Producer settings: every record acknowledged by all in-sync replicas. aiokafka's own
    record size check (`max_request_size`) gets the same limit as ours; it measures a record
    the same way or less (see `messages.record_size`), so it never refuses one that ours let
    through. It runs only in aiokafka's `send`: the publisher's `send_batch` relies on ours."""
    return {
        **connection_options(config),
        "acks": "all",
        "max_request_size": config.max_message_bytes,
        "enable_idempotence": config.enable_idempotence,
        "compression_type": config.compression_type,
        "linger_ms": config.linger_ms,
    }
