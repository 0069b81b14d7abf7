from __future__ import annotations

import pytest

from adapters.persistence import Migration
from adapters.persistence.migrations import pending_migrations
from application.ports.errors import StateStoreError

V1 = Migration(1, "one", ("CREATE TABLE a (x INTEGER)",))
V2 = Migration(2, "two", ("CREATE TABLE b (x INTEGER)",))


@pytest.mark.parametrize(
    ("current", "expected"), [(0, (V1, V2)), (1, (V2,)), (2, ())], ids=["empty", "older", "same"]
)
def test_only_the_missing_migrations_are_pending(
    current: int, expected: tuple[Migration, ...]
) -> None:
    assert pending_migrations([V1, V2], current) == expected


def test_a_database_from_a_newer_release_is_refused() -> None:
    with pytest.raises(StateStoreError, match="schema version 3, newer"):
        pending_migrations([V1, V2], 3)


@pytest.mark.parametrize("migrations", [[V2], [V2, V1], [V1, V1]])
def test_versions_must_count_up_from_one(migrations: list[Migration]) -> None:
    with pytest.raises(ValueError, match="1, 2, 3"):
        pending_migrations(migrations, 0)
