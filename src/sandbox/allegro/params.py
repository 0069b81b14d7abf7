"""Query-parameter parsing with Allegro's answers: 422 for ranges, 400 for bad values."""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import QueryParams

from sandbox.allegro.errors import ErrorBody, errors_holder, validation_error
from sandbox.allegro.timefmt import parse_datetime


class ParamError(Exception):
    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def int_param(query: QueryParams, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ParamError(422, validation_error(f"{name} must be an integer", name)) from None
    if not low <= value <= high:
        raise ParamError(422, validation_error(f"{name} must be between {low} and {high}", name))
    return value


def choice_param(query: QueryParams, name: str, allowed: Collection[str]) -> str | None:
    raw = query.get(name)
    if raw is not None and raw not in allowed:
        raise ParamError(400, _illegal(name, raw))
    return raw


def datetime_param(query: QueryParams, name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return parse_datetime(raw)
    except ValueError:
        raise ParamError(400, _illegal(name, raw)) from None


def _illegal(name: str, raw: str) -> ErrorBody:
    return errors_holder("IllegalArgumentException", f"Illegal value of {name}: {raw}", path=name)
