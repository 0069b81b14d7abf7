"""`python -m tools.contracts --release`: the current schemas become the released baseline,
unless they are stale or break the baseline they replace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import contracts


def _released(directory: Path) -> dict[str, str]:
    released = directory / contracts.RELEASED_DIR
    return {path.name: path.read_text() for path in sorted(released.glob("*"))}


def test_a_release_copies_every_published_schema_and_a_second_one_nothing(tmp_path: Path) -> None:
    assert contracts.main(["--dir", str(tmp_path)]) == 0

    assert contracts.main(["--release", "--dir", str(tmp_path)]) == 0

    published = {name: (tmp_path / name).read_text() for name in contracts.SCHEMA_MODELS}
    assert _released(tmp_path) == published
    assert contracts.release(tmp_path) == []


def test_a_release_is_refused_when_a_schema_breaks_its_released_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contracts.write(tmp_path)
    contracts.release(tmp_path)
    # a baseline with a field the current schema no longer has: as if it had been removed
    baseline = tmp_path / contracts.RELEASED_DIR / contracts.ORDER_STATUS_CHANGED_SCHEMA
    released = json.loads(baseline.read_text())
    released["properties"]["priority"] = {"type": "string"}
    baseline.write_text(json.dumps(released))
    before = _released(tmp_path)

    assert contracts.main(["--release", "--dir", str(tmp_path)]) == 1

    assert _released(tmp_path) == before
    error = capsys.readouterr().err
    assert f"{contracts.ORDER_STATUS_CHANGED_SCHEMA}: $.priority: property removed" in error


def test_a_release_is_refused_while_the_contracts_are_stale(tmp_path: Path) -> None:
    contracts.write(tmp_path)
    (tmp_path / contracts.DEAD_LETTER_SCHEMA).write_text("{}")

    with pytest.raises(contracts.ReleaseRefused, match=contracts.DEAD_LETTER_SCHEMA):
        contracts.release(tmp_path)
    assert not (tmp_path / contracts.RELEASED_DIR).exists()
