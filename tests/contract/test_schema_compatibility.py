"""Every published schema is a compatible evolution of its last released copy.

`contracts/released/` holds the schemas as last released: the baseline consumers were given.
Within a `ce_type` version the current schema may only widen it (contracts/COMPATIBILITY.md):
no property removed or renamed, no type narrowed, no new required field. A breaking change
is a new version (a new schema file), not an edit of this baseline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools import contracts
from tools.schema_compat import breaking_changes

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"
RELEASED_DIR = CONTRACTS_DIR / "released"
RELEASED = sorted(path.name for path in RELEASED_DIR.glob("*.schema.json"))


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_is_a_released_baseline_for_every_v1_message() -> None:
    # the v1 messages released before the contract became open; a message added later gets
    # its copy when it is first released (contracts/COMPATIBILITY.md, Releasing)
    first_release = {
        contracts.ORDER_IMPORTED_SCHEMA,
        contracts.ORDER_STATUS_CHANGED_SCHEMA,
        contracts.DEAD_LETTER_SCHEMA,
    }

    assert first_release <= set(RELEASED)


@pytest.mark.parametrize("file_name", RELEASED)
def test_the_current_schema_keeps_every_promise_of_the_released_one(file_name: str) -> None:
    current = CONTRACTS_DIR / file_name
    assert current.is_file(), (
        f"{file_name} was released and is no longer published: a version is retired only "
        "after its migration period, with its released copy (contracts/COMPATIBILITY.md)"
    )

    problems = breaking_changes(_load(RELEASED_DIR / file_name), _load(current))

    assert problems == [], (
        f"contracts/{file_name} breaks its released copy; a breaking change needs a new "
        "ce_type version (contracts/COMPATIBILITY.md):\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("file_name", RELEASED)
def test_the_released_copy_is_a_schema_of_the_same_message(file_name: str) -> None:
    released, current = _load(RELEASED_DIR / file_name), _load(CONTRACTS_DIR / file_name)

    assert released["$id"] == current["$id"] == file_name
    assert released["title"] == current["title"]
