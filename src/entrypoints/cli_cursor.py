"""`openoms-allegro cursor show|set|reset`: move the journal cursor (placeholder)."""

from __future__ import annotations

import click


@click.group()
def cursor() -> None:
    """Show or move the order journal cursor (refused while the service runs)."""
