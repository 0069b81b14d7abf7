"""The command line as an operator meets it: exit codes, one-line errors, the demo."""

from __future__ import annotations

import os
import re

import pytest

from tests.support.service import run_cli

pytestmark = pytest.mark.integration


def clean_env(**values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALLEGRO_", "KAFKA_", "STATE_", "TOKEN_", "HTTP_"))
    }
    env.update(values)
    return env


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "ALLEGRO_CLIENT_ID"),
        ({"ALLEGRO_CLIENT_ID": "app"}, "ALLEGRO_CLIENT_SECRET"),
        (
            {
                "ALLEGRO_CLIENT_ID": "app",
                "ALLEGRO_CLIENT_SECRET": "s",
                "POLL_INTERVAL_SECONDS": "x",
            },
            "POLL_INTERVAL_SECONDS",
        ),
        ({"ALLEGRO_CLIENT_ID": "app", "ALLEGRO_CLIENT_SECRET": "s"}, "KAFKA_BOOTSTRAP_SERVERS"),
        (
            {
                "ALLEGRO_CLIENT_ID": "app",
                "ALLEGRO_CLIENT_SECRET": "s",
                "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            },
            "TOKEN_ENCRYPTION_KEY",
        ),
    ],
)
def test_bad_configuration_exits_2_with_one_line_naming_the_variable(env, variable, tmp_path):
    done = run_cli("run", "--once", env=clean_env(STATE_URL=f"sqlite:///{tmp_path}/s.db", **env))

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert variable in lines[0]
    assert "Traceback" not in done.stderr


def test_an_unreachable_allegro_exits_1_without_a_traceback(tmp_path):
    env = clean_env(
        ALLEGRO_CLIENT_ID="app",
        ALLEGRO_CLIENT_SECRET="s",
        ALLEGRO_API_URL="http://127.0.0.1:9",
        ALLEGRO_AUTH_URL="http://127.0.0.1:9/auth/oauth",
        ALLEGRO_REFRESH_TOKEN="r",
        ALLEGRO_TIMEOUT_SECONDS="1",
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
        KAFKA_ENABLE_IDEMPOTENCE="false",
        STATE_URL=f"sqlite:///{tmp_path}/s.db",
        TOKEN_ENCRYPTION_KEY="q2qYQ0lBr2l6s3z4M1u1l9yN4VdWnH8N0vQf6V8t9yE=",
        LOG_LEVEL="CRITICAL",
    )

    done = run_cli("run", "--once", env=env, timeout=180)

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")


def test_the_demo_runs_the_whole_pipeline_and_stops_by_itself() -> None:
    done = run_cli("demo", "--duration", "10", "--orders", "12", env=clean_env(), timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("OrderImported") >= 3
    assert "demo finished" in done.stdout
    # Acting as OpenOMS it set a SKU's stock; the result for that SKU and what it asked came
    # back, and Allegro's offer changes were shown as OfferChanged rows.
    sent = re.findall(r"command sent +(\S+) +(Set(?:Stock|Price) [^\n]+)", done.stdout)
    answered = re.findall(r"CommandSucceeded +(\S+) +(Set(?:Stock|Price) [^\n]+)", done.stdout)
    assert sent, done.stdout[-3000:]
    assert sent[0] in answered, done.stdout[-3000:]
    assert re.search(r"OfferChanged +\d+ +[\d.]+ PLN +\S+ +stock \d+ +ACTIVE", done.stdout)


def test_version_needs_no_configuration():
    """`--version` (issue 12, item 8) answers before any setting is read: exit 0, one line."""
    from importlib.metadata import version

    done = run_cli("--version", env=clean_env(), timeout=30)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f" {version('openoms-allegro')}")
    assert len(done.stdout.strip().splitlines()) == 1
