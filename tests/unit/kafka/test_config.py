from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.kafka.config import KafkaConfig, connection_options, producer_options


def write_self_signed(directory: Path, common_name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{common_name}.crt", directory / f"{common_name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def sasl_config(**overrides: Any) -> KafkaConfig:
    fields: dict[str, Any] = {
        "bootstrap_servers": "kafka-1:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "openoms",
        "sasl_password": "s3cr3t-p4ss",
    } | overrides
    return KafkaConfig(**fields)


def test_defaults_follow_the_spec() -> None:
    config = KafkaConfig(bootstrap_servers="localhost:9092")

    assert config.topic_orders == "openoms.orders.v1"
    assert config.topic_dlq == "openoms.orders.dlq.v1"
    assert config.enable_idempotence is True
    assert config.security_protocol == "PLAINTEXT"
    assert config.compression_type == "gzip"
    assert config.client_id == "openoms-allegro"


def test_the_password_never_shows_in_repr() -> None:
    config = sasl_config()

    assert "s3cr3t-p4ss" not in repr(config)
    assert "openoms" in repr(config)


def test_producer_waits_for_all_replicas_and_compresses() -> None:
    config = KafkaConfig(bootstrap_servers="k:9092", enable_idempotence=False, linger_ms=7)

    options = producer_options(config)

    assert options["acks"] == "all"
    assert options["compression_type"] == "gzip"
    assert options["enable_idempotence"] is False
    assert options["linger_ms"] == 7
    assert options["bootstrap_servers"] == "k:9092"
    assert options["client_id"] == "openoms-allegro"


def test_the_producers_own_size_check_gets_the_maximum_message_size() -> None:
    config = KafkaConfig(bootstrap_servers="k:9092", max_message_bytes=200_000)

    assert producer_options(config)["max_request_size"] == 200_000
    assert producer_options(KafkaConfig("k:9092"))["max_request_size"] == 1_048_576


def test_a_maximum_message_size_too_small_for_a_dead_letter_stub_is_refused() -> None:
    with pytest.raises(ValueError, match="max_message_bytes must be at least 16384"):
        KafkaConfig(bootstrap_servers="k:9092", max_message_bytes=16_383)


def test_plaintext_sets_no_tls_and_no_sasl() -> None:
    options = connection_options(KafkaConfig(bootstrap_servers="k:9092"))

    assert options["security_protocol"] == "PLAINTEXT"
    assert "ssl_context" not in options
    assert "sasl_plain_password" not in options


def test_sasl_ssl_passes_credentials_and_a_tls_context() -> None:
    options = connection_options(sasl_config())

    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "openoms"
    assert options["sasl_plain_password"] == "s3cr3t-p4ss"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname is True


def test_tls_context_trusts_the_given_ca_and_loads_the_client_certificate(
    tmp_path: Path,
) -> None:
    ca_file, _ = write_self_signed(tmp_path, "openoms-test-ca")
    cert_file, key_file = write_self_signed(tmp_path, "openoms-client")
    config = KafkaConfig(
        bootstrap_servers="k:9093",
        security_protocol="SSL",
        ssl_cafile=str(ca_file),
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
    )

    context = connection_options(config)["ssl_context"]

    subjects = [dict(pair[0] for pair in ca["subject"]) for ca in context.get_ca_certs()]
    assert {"commonName": "openoms-test-ca"} in subjects


def test_a_missing_ca_file_fails_at_startup(tmp_path: Path) -> None:
    config = KafkaConfig(
        bootstrap_servers="k:9093", security_protocol="SSL", ssl_cafile=str(tmp_path / "nope")
    )

    with pytest.raises(FileNotFoundError):
        connection_options(config)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bootstrap_servers": " "}, "bootstrap_servers"),
        ({"topic_dlq": "openoms.orders.v1"}, "must differ"),
        ({"security_protocol": "SASL"}, "security_protocol"),
        ({"security_protocol": "SASL_SSL"}, "sasl_mechanism"),
        (
            {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"},
            "sasl_username and sasl_password",
        ),
        ({"ssl_cafile": "/etc/ca.pem"}, "TLS files"),
        (
            {"security_protocol": "SSL", "ssl_keyfile": "/etc/client.key"},
            "ssl_keyfile needs ssl_certfile",
        ),
        ({"compression_type": "brotli"}, "compression_type"),
        ({"linger_ms": -1}, "linger_ms"),
        ({"request_timeout_ms": 0}, "request_timeout_ms"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    overrides: dict[str, Any], message: str
) -> None:
    fields: dict[str, Any] = {"bootstrap_servers": "k:9092"} | overrides

    with pytest.raises(ValueError, match=message):
        KafkaConfig(**fields)
