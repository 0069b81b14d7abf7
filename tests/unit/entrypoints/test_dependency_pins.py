"""pyproject.toml admits no release known to be vulnerable, and constraints.txt pins the whole
tree that the Makefile (so CI) and the Dockerfile install."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]
PROJECT = "openoms-allegro"
_PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)")


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(text) for text in texts]


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pin = _PIN.fullmatch(line.strip())
        assert pin is not None, f"not an exact pin: {line!r}"
        pins[canonicalize_name(pin["name"])] = pin["version"]
    return pins


def installed_tree(root: str, extras: frozenset[str]) -> set[str]:
    """The distributions `pip install 'root[extras]'` pulls in, read from what is installed."""
    found: set[str] = set()
    pending = [(canonicalize_name(root), extras)]
    visited: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, wanted = pending.pop()
        if (name, wanted) in visited:
            continue
        visited.add((name, wanted))
        for text in metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in wanted | {""}
            ):
                continue
            dependency = canonicalize_name(requirement.name)
            found.add(dependency)
            pending.append((dependency, frozenset(requirement.extras)))
    return found


def test_cryptography_excludes_the_release_with_a_vulnerable_openssl() -> None:
    (cryptography,) = [r for r in project_requirements() if r.name == "cryptography"]

    assert not cryptography.specifier.contains("44.0.0")  # CVE-2024-12797 in its wheels
    assert cryptography.specifier.contains("44.0.1")
    assert cryptography.specifier.contains(locked()["cryptography"])


def test_the_lock_pins_every_distribution_the_project_installs_as_installed() -> None:
    tree = installed_tree(PROJECT, frozenset({"dev"}))
    pins = locked()

    assert sorted(tree - pins.keys()) == []
    assert {name: metadata.version(name) for name in tree} == {name: pins[name] for name in tree}
    assert canonicalize_name(PROJECT) not in pins  # the project itself is built, not pinned


def test_the_lock_agrees_with_every_requirement_of_pyproject() -> None:
    pins = locked()

    disagreeing = [
        str(requirement)
        for requirement in project_requirements()
        if not requirement.specifier.contains(pins[canonicalize_name(requirement.name)])
    ]

    assert disagreeing == []


def test_ci_and_the_image_install_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(LOCK\)$", makefile, re.MULTILINE)
    assert "LOCK   := constraints.txt" in makefile
    assert "pip install --quiet -c $(LOCK) -e '.[dev]'" in makefile
    assert "COPY pyproject.toml README.md constraints.txt ./" in dockerfile
    assert "pip install --no-cache-dir --prefix=/install -c constraints.txt ." in dockerfile
