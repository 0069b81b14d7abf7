import io
import json
import logging

from entrypoints.logging_setup import JsonFormatter, TextFormatter, configure_logging


def emit(formatter: logging.Formatter, message: str, *args: object, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.redaction")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.warning(message, *args, extra=extra)
    return stream.getvalue()


SECRET_EXTRAS = {
    "refresh_token": "eyJhbGciOiJSUzI1NiJ9.eyJ1c2VyIjoiMSJ9.c2lnbmF0dXJl",
    "customer_email": "k7qhd2mzpa+4c1e9b07@allegromail.pl",
    "buyer_phone": "+48601234567",
    "shipping_address": "Ogrodowa 14/3, Kraków",
    "checkout_form_id": "15d9e2a0-ea25-11f1-8f11-02fc00000001",
}


def test_json_logs_mask_sensitive_fields_and_keep_the_rest():
    line = emit(JsonFormatter(), "order imported", **SECRET_EXTRAS)

    payload = json.loads(line)
    for key in ("refresh_token", "customer_email", "buyer_phone", "shipping_address"):
        assert payload[key] == "<redacted>"
        assert SECRET_EXTRAS[key] not in line
    assert payload["checkout_form_id"] == SECRET_EXTRAS["checkout_form_id"]


def test_values_that_look_secret_are_masked_in_messages_too():
    line = emit(
        TextFormatter(),
        "call failed: Authorization: Bearer %s for %s",
        "abc.def-123",
        "jan.kowalski@example.com",
        note="refresh_token=xyz123&grant_type=refresh_token",
    )

    assert "abc.def-123" not in line
    assert "jan.kowalski@example.com" not in line
    assert "xyz123" not in line
    assert "<email>" in line


def test_every_record_carries_the_account_unless_it_names_its_own(monkeypatch):
    stream = io.StringIO()
    root = logging.getLogger()
    monkeypatch.setattr("sys.stderr", stream)
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # restored afterwards
    monkeypatch.setattr(root, "level", root.level)
    configure_logging("INFO", "json", account="shop-1")
    logger = logging.getLogger("test.context")

    logger.info("batch committed", extra={"checkout_form_id": "cf-1"})
    logger.info("other account", extra={"account": "shop-2"})

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["account"], first["checkout_form_id"]) == ("shop-1", "cf-1")
    assert second["account"] == "shop-2"
