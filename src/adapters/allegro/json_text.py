"""JSON from Allegro, decoded without letting a hostile body escape as an unexpected error.

Python's `json` module recurses once per nesting level (a body nested 100 000 deep raises
`RecursionError`) and refuses integers of more than 4 300 digits with a `ValueError` that no
caller expects. pydantic-core's parser stops at a nesting depth of 200 and at numbers out of
range with a `ValueError` of its own, and is what validates the hot-path bodies already:
every other decode of an Allegro body goes through `loads`, so that any such body is one
`ValueError`, which the callers turn into their malformed path.
"""

from __future__ import annotations

from typing import Any

import pydantic_core


def loads(raw: str | bytes) -> Any:
    """The decoded body; `ValueError` (with pydantic-core's position) for anything else."""
    try:
        return pydantic_core.from_json(raw, cache_strings=False)
    except (RecursionError, MemoryError, TypeError, OverflowError) as exc:
        raise ValueError(f"undecodable JSON ({type(exc).__name__})") from exc
