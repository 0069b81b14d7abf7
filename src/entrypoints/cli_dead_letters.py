"""`openoms-allegro dead-letters list|retry`: quarantined orders (issue 12, item 9). Placeholder."""

from __future__ import annotations

import click


@click.group("dead-letters")
def dead_letters() -> None:
    """List quarantined orders, retry them, clear an order's failure count."""
