"""`aclose()` and `async with` for the stores that own a database connection."""

from __future__ import annotations

from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar


class _Database(Protocol):
    async def aclose(self) -> None: ...


DatabaseT = TypeVar("DatabaseT", bound=_Database)


class OwnsDatabase(Generic[DatabaseT]):
    _database: DatabaseT

    async def aclose(self) -> None:
        await self._database.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
