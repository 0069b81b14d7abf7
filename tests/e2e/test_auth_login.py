"""`openoms-allegro auth login` (device flow) and `auth generate-key`, as an operator runs them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.persistence import SqliteTokenStore, TokenCipher
from sandbox.allegro import SimulatorConfig, SimulatorServer, SimulatorState
from tests.support.process import ServiceProcess, service_process
from tests.support.service import TEST_KEY, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

CODE = re.compile(r"check that the page shows the code\s+(\S+)")


@pytest.fixture
def allegro() -> Iterator[SimulatorServer]:
    # Allegro asks clients to poll every 5 s; a second keeps the test short.
    state = SimulatorState(SimulatorConfig(device_interval_seconds=1))
    with SimulatorServer(state) as server:
        yield server


def login_env(server: SimulatorServer, state_db: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ALLEGRO_", "KAFKA_", "STATE_", "TOKEN_", "HTTP_"))
    }
    config = server.state.config
    env.update(
        ALLEGRO_API_URL=server.url,
        ALLEGRO_AUTH_URL=server.oauth_url,
        ALLEGRO_CLIENT_ID=config.client_id,
        ALLEGRO_CLIENT_SECRET=config.client_secret,
        ALLEGRO_ACCOUNT="shop",
        STATE_URL=f"sqlite:///{state_db}",
        TOKEN_ENCRYPTION_KEY=TEST_KEY,
        LOG_FORMAT="json",
    )
    return env


def user_code(login: ServiceProcess) -> str:
    def shown() -> str | None:
        for line in login.stdout_lines():
            match = CODE.search(line)
            if match:
                return match.group(1)
        return None

    login.wait_for(lambda: shown() is not None, within=20, what="the user code")
    code = shown()
    assert code is not None
    return code


async def stored_tokens(state_db: Path) -> tuple[str, str] | None:
    async with await SqliteTokenStore.open(state_db, TokenCipher.from_key(TEST_KEY)) as store:
        pair = await store.load("shop")
    return (pair.access_token, pair.refresh_token) if pair else None


async def test_an_approved_login_stores_tokens_that_allegro_accepts(
    allegro: SimulatorServer, tmp_path: Path
) -> None:
    state_db = tmp_path / "state.db"
    with service_process(login_env(allegro, state_db), "auth", "login") as login:
        code = user_code(login)
        allegro.state.approve_device(code)
        exit_code = login.wait_exit(within=20)
        output = "\n".join(login.stdout_lines() + login.stderr_lines())

    tokens = await stored_tokens(state_db)
    assert exit_code == 0, output
    assert f"{allegro.url}/skojarz-aplikacje?code={code}" in output
    assert "Authorised: tokens for account 'shop' are stored encrypted" in output
    assert tokens is not None
    access, refresh = tokens
    assert access not in output
    assert refresh not in output
    async with httpx.AsyncClient(timeout=5) as client:
        stats = await client.get(
            f"{allegro.url}/order/event-stats",
            headers={
                "Authorization": f"Bearer {access}",
                "Accept": "application/vnd.allegro.public.v1+json",
            },
        )
    assert stats.status_code == 200


async def test_a_denied_login_exits_1_with_one_line_and_stores_nothing(
    allegro: SimulatorServer, tmp_path: Path
) -> None:
    state_db = tmp_path / "state.db"
    with service_process(login_env(allegro, state_db), "auth", "login") as login:
        allegro.state.deny_device(user_code(login))
        exit_code = login.wait_exit(within=20)
        errors = [line for line in login.stderr_lines() if not line.startswith("{")]

    assert exit_code == 1
    assert len(errors) == 1, errors
    assert errors[0].startswith("authorisation denied: the seller refused access")
    assert await stored_tokens(state_db) is None


def test_login_without_an_encryption_key_is_a_configuration_error(
    allegro: SimulatorServer, tmp_path: Path
) -> None:
    env = login_env(allegro, tmp_path / "state.db")
    del env["TOKEN_ENCRYPTION_KEY"]

    done = run_cli("auth", "login", env=env, timeout=30)

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "configuration error: TOKEN_ENCRYPTION_KEY is required: OAuth tokens are stored "
        "encrypted (generate one with `openoms-allegro auth generate-key`)"
    ]


def test_generate_key_prints_a_fresh_fernet_key() -> None:
    first = run_cli("auth", "generate-key", env=dict(os.environ), timeout=30)
    second = run_cli("auth", "generate-key", env=dict(os.environ), timeout=30)

    key = first.stdout.strip()
    assert first.returncode == 0
    assert TokenCipher.from_key(key).decrypt(TokenCipher.from_key(key).encrypt("x")) == "x"
    assert key != second.stdout.strip()
