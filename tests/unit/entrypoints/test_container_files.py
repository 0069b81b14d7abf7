"""docker-compose.yml and the Dockerfile, checked statically (these machines run no Docker
engine): every command exists, every variable the service needs is set and valid, and the
pieces point at each other (ports, topics, tokens, volumes, health paths)."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import click
import pytest

from adapters.persistence import SqliteLocation, parse_state_url
from entrypoints.cli import main
from entrypoints.health import Readiness, Role
from entrypoints.http import create_app
from entrypoints.metrics import Metrics
from entrypoints.service import check_run_settings
from entrypoints.settings import Settings, load_settings
from sandbox.allegro import SimulatorConfig
from tests.unit.entrypoints.yaml_subset import YamlSubsetError, load

ROOT = Path(__file__).resolve().parents[3]
SERVICE = "openoms-allegro"
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def interpolated(value: str) -> str:
    """Compose's `${VAR:-default}` with nothing set in the environment: the default."""

    def default(match: re.Match[str]) -> str:
        assert match.group(2) is not None, f"{match.group(0)} has no default"
        return match.group(2)

    return _INTERPOLATION.sub(default, value)


def service_environment(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    environment = services[SERVICE]["environment"]
    assert all(isinstance(value, str) for value in environment.values()), "quote every value"
    return {name: interpolated(value) for name, value in environment.items()}


@pytest.fixture
def compose_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in service_environment(services).items():
        monkeypatch.setenv(name, value)
    return load_settings()


def parse_command(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The CLI's command path and parameters for `args`; click refuses unknown ones."""
    command: click.Command = main
    path: list[str] = []
    rest = list(args)
    while isinstance(command, click.Group):
        name, *rest = rest
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"`{SERVICE} {' '.join([*path, name])}` does not exist"
        path.append(name)
        command = found
    return path, command.make_context(" ".join(path), rest).params


# ----------------------------------------------------------------------- docker-compose


def test_the_compose_file_stays_in_the_yaml_subset_we_can_check() -> None:
    with pytest.raises(YamlSubsetError):
        load("a: &anchor 1\nb: *anchor\n")


def test_kafka_is_the_official_image_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    environment = kafka["environment"]

    assert kafka["image"].startswith("apache/kafka:")
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert environment["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(environment["KAFKA_NODE_ID"])
    assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])


def test_every_topic_is_created_before_the_service_starts(
    services: dict[str, dict[str, Any]], compose_settings: Settings
) -> None:
    setup = services["kafka-topics"]
    (script,) = setup["command"]
    creations = [shlex.split(part) for part in script.split("&&")]

    assert setup["entrypoint"] == ["/bin/sh", "-c"]
    assert setup["image"] == services["kafka"]["image"]
    topics = {words[words.index("--topic") + 1] for words in creations}
    assert topics == {
        compose_settings.kafka_topic_orders,
        compose_settings.kafka_topic_dlq,
        compose_settings.kafka_topic_commands,
        compose_settings.kafka_topic_command_results,
        compose_settings.kafka_topic_offer_commands,
        compose_settings.kafka_topic_offers,
    }
    for words in creations:
        assert words[0] == "/opt/kafka/bin/kafka-topics.sh"
        assert {"--create", "--if-not-exists"} <= set(words)
        bootstrap = words[words.index("--bootstrap-server") + 1]
        assert bootstrap == compose_settings.kafka_bootstrap_servers
    assert setup["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services[SERVICE]["depends_on"]["kafka-topics"] == {
        "condition": "service_completed_successfully"
    }


def test_the_service_reaches_kafka_where_kafka_says_it_is(
    services: dict[str, dict[str, Any]], compose_settings: Settings
) -> None:
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]

    assert f"PLAINTEXT://{compose_settings.kafka_bootstrap_servers}" in advertised.split(",")


def test_every_variable_the_service_needs_is_set_and_valid(compose_settings: Settings) -> None:
    check_run_settings(compose_settings)  # Kafka and the token key

    assert compose_settings.allegro_client_id
    assert compose_settings.allegro_refresh_token is not None


def test_the_service_reaches_the_simulator_on_loopback_in_its_network_namespace(
    services: dict[str, dict[str, Any]], compose_settings: Settings
) -> None:
    simulator_path, simulator = parse_command(services["simulator"]["command"])
    service = services[SERVICE]

    assert simulator_path == ["sandbox", "serve"]
    assert service["network_mode"] == "service:simulator"
    assert compose_settings.api_url == f"http://127.0.0.1:{simulator['port']}"
    assert compose_settings.auth_url == f"{compose_settings.api_url}/auth/oauth"
    assert simulator["host"] == "0.0.0.0"  # published ports reach it from the host
    assert service["depends_on"]["simulator"]["condition"] == "service_healthy"
    assert "/__sim/stats" in " ".join(services["simulator"]["healthcheck"]["test"])


def test_the_service_holds_credentials_the_simulator_accepts(
    services: dict[str, dict[str, Any]], compose_settings: Settings
) -> None:
    _, simulator = parse_command(services["simulator"]["command"])
    defaults = SimulatorConfig()
    refresh_token = compose_settings.allegro_refresh_token
    assert refresh_token is not None

    assert simulator["refresh_token"] == refresh_token.get_secret_value()
    assert compose_settings.allegro_client_id == defaults.client_id
    assert compose_settings.allegro_client_secret.get_secret_value() == defaults.client_secret


def test_the_service_port_is_published_by_the_namespace_it_lives_in(
    services: dict[str, dict[str, Any]], compose_settings: Settings
) -> None:
    published = [port.rsplit(":", 1)[-1] for port in services["simulator"]["ports"]]

    assert str(compose_settings.http_port) in published
    assert "ports" not in services[SERVICE]  # network_mode: service:... cannot publish


def test_the_state_lives_on_a_named_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], compose_settings: Settings
) -> None:
    location = parse_state_url(compose_settings.state_url)
    mounts = dict(volume.split(":", 1) for volume in services[SERVICE]["volumes"])

    assert isinstance(location, SqliteLocation)
    assert location.path is not None
    volume, target = next(iter(mounts.items()))
    assert PurePosixPath(str(location.path)).parent == PurePosixPath(target)
    assert volume in compose["volumes"]


def test_the_service_and_the_simulator_are_built_from_this_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services[SERVICE]["build"] == services["simulator"]["build"] == "."
    assert services[SERVICE]["image"] == services["simulator"]["image"]
    assert "command" not in services[SERVICE]  # the image's CMD: `run`


# ----------------------------------------------------------------------- Dockerfile


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    instructions = [tuple(line.split(None, 1)) for line in lines if line and line[0] != "#"]
    stages = [i for i, (name, _) in enumerate(instructions) if name.upper() == "FROM"]
    return [(name.upper(), args) for name, args in instructions[stages[-1] :]]


def instruction(name: str) -> list[str]:
    return [args for kind, args in dockerfile() if kind == name]


def exec_form(arguments: str) -> list[str]:
    import json

    parsed = json.loads(arguments)
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


def test_the_image_runs_as_the_unprivileged_user_it_creates() -> None:
    (user,) = instruction("USER")
    created = " ".join(instruction("RUN"))

    assert user not in ("root", "0")
    assert re.search(rf"useradd .*--uid (\d+) .*{user}$", created)
    assert int(re.search(r"--uid (\d+)", created).group(1)) >= 1000  # type: ignore[union-attr]


def test_the_entrypoint_is_the_installed_command_and_its_default_command_exists() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (entrypoint,) = instruction("ENTRYPOINT")
    (command,) = instruction("CMD")

    assert exec_form(entrypoint) == [SERVICE]
    assert project["scripts"][SERVICE] == "entrypoints.cli:main"
    assert parse_command(exec_form(command))[0] == ["run"]


def test_the_healthcheck_asks_a_route_the_service_serves_on_its_port() -> None:
    (healthcheck,) = instruction("HEALTHCHECK")
    (exposed,) = instruction("EXPOSE")

    async def ready() -> Readiness:
        return Readiness(True, Role.SINGLE)

    routes = {getattr(route, "path", None) for route in create_app(Metrics(), ready).routes}
    assert "/healthz" in healthcheck
    assert "/healthz" in routes
    assert "os.environ.get('HTTP_PORT', '8080')" in healthcheck
    assert exposed == str(Settings.model_fields["http_port"].default) == "8080"


def test_the_image_listens_on_every_interface_though_the_service_defaults_to_loopback() -> None:
    environment = dict(
        item.split("=", 1) for args in instruction("ENV") for item in shlex.split(args)
    )

    assert Settings.model_fields["http_host"].default == "127.0.0.1"
    assert environment["HTTP_HOST"] == "0.0.0.0"  # published ports and probes reach it


def test_the_build_copies_what_the_package_build_reads() -> None:
    text = (ROOT / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())

    assert "COPY pyproject.toml README.md constraints.txt ./" in text
    assert "COPY src ./src" in text
    assert project["project"]["readme"] == "README.md"
    python = re.search(r"FROM python:(\d+\.\d+)", text)
    assert python is not None
    assert project["project"]["requires-python"] == f">={python.group(1)}"
