"""What goes to the dead-letter topic when a parsed form cannot be mapped."""

from __future__ import annotations

import dataclasses
import json

from domain.order import OrderSnapshot


def describe(order: OrderSnapshot) -> str:
    """The parsed form as JSON: the wire body was readable, its values were not mappable."""
    return json.dumps(dataclasses.asdict(order), default=str, sort_keys=True, ensure_ascii=False)
