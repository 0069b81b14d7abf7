"""docker-compose.yml and the Dockerfile as an operator runs them for days: containers come
back after a crash or a reboot, PID 1 forwards signals and reaps children, logs are rotated,
and the image keeps its state on its volume whatever the service's own default is."""

from __future__ import annotations

import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from adapters.persistence import SqliteLocation, parse_state_url
from tests.unit.entrypoints.test_container_files import exec_form, instruction
from tests.unit.entrypoints.yaml_subset import load

ROOT = Path(__file__).resolve().parents[3]
LONG_RUNNING = ("openoms-allegro", "simulator")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    document = load((ROOT / "docker-compose.yml").read_text())
    found: dict[str, dict[str, Any]] = document["services"]
    return found


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_the_service_and_the_simulator_restart_and_run_under_an_init(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]

    assert service["restart"] in ("unless-stopped", "always")
    assert service["init"] is True


def test_every_container_rotates_its_logs(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        logging = service.get("logging", {})
        options = logging.get("options", {})
        assert logging.get("driver") in ("json-file", "local"), name
        assert options.get("max-size", "").rstrip("kmg").isdigit(), name
        assert int(options.get("max-file", "0")) >= 2, name


def test_the_image_names_its_state_on_its_volume() -> None:
    environment = dict(
        item.split("=", 1) for args in instruction("ENV") for item in shlex.split(args)
    )
    (volume,) = instruction("VOLUME")
    location = parse_state_url(environment["STATE_URL"])

    assert isinstance(location, SqliteLocation)
    assert location.path is not None
    path = PurePosixPath(str(location.path))
    assert path.is_absolute()  # whatever the working directory or the default
    assert [str(path.parent)] == exec_form(volume)


def test_compose_keeps_naming_the_state_url(services: dict[str, dict[str, Any]]) -> None:
    state_url = services["openoms-allegro"]["environment"]["STATE_URL"]
    location = parse_state_url(state_url)

    assert isinstance(location, SqliteLocation)
    assert location.path is not None
    assert PurePosixPath(str(location.path)).is_absolute()
