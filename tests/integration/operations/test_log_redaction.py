"""A full import with JSON logs at DEBUG: no secret and no buyer data in the output."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.config import KafkaConfig
from adapters.persistence import SqliteTokenStore, TokenCipher
from sandbox.allegro import SimulatorServer
from tests.support.process import service_process
from tests.support.service import TEST_KEY, scripted_simulator, service_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    with scripted_simulator(seed=31337, orders=25) as server:
        yield server


def personal_data(form: dict[str, Any]) -> set[str]:
    """Buyer e-mail, phone, names and streets, wherever the checkout form carries them."""
    buyer = form.get("buyer") or {}
    places = [
        buyer,
        buyer.get("address") or {},
        (form.get("delivery") or {}).get("address") or {},
        (form.get("invoice") or {}).get("address") or {},
    ]
    keys = ("email", "phoneNumber", "firstName", "lastName", "street")
    return {str(place[key]) for place in places for key in keys if place.get(key)}


def leaks(output: str, secrets: set[str]) -> set[str]:
    found = set()
    for secret in secrets:
        for form in {secret, json.dumps(secret)[1:-1]}:  # as is, and JSON-escaped
            if re.search(rf"(?<!\w){re.escape(form)}(?!\w)", output):
                found.add(secret)
    return found


async def test_no_token_secret_or_buyer_data_appears_in_the_output(
    allegro: SimulatorServer, kafka_topics: KafkaConfig, tmp_path: Path
) -> None:
    state = allegro.state
    db = tmp_path / "state.db"
    env = service_env(
        allegro.url,
        state.config,
        state.initial_refresh_token,
        kafka_topics,
        db,
        LOG_LEVEL="DEBUG",
        LOG_FORMAT="json",
        POLL_INTERVAL_SECONDS="0.2",
    )
    with service_process(env, "run") as service:
        service.wait_for_log("batch committed", within=30)
        service.terminate()
        assert service.wait_exit(within=20) == 0
        output = "\n".join(service.stdout_lines() + service.stderr_lines())
        records = service.logs()
    async with await SqliteTokenStore.open(db, TokenCipher.from_key(TEST_KEY)) as tokens:
        pair = await tokens.load("e2e")
    assert pair is not None
    secrets = {
        pair.access_token,
        pair.refresh_token,
        state.initial_refresh_token,
        state.config.client_secret,
        TEST_KEY,
    }
    buyer_data = set().union(*(personal_data(state.checkout_form(o)) for o in state.order_ids()))

    assert len(buyer_data) > 50, "the simulator should have produced plenty of buyer data"
    assert leaks(output, secrets) == set()
    assert leaks(output, buyer_data) == set()
    assert records, "the service should log JSON records"
    assert all(record.get("account") == "e2e" for record in records)
    assert [r for r in records if r.get("checkout_form_id")], "some record names its order"
