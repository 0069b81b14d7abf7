"""`openoms-allegro check`: the pre-flight check (issue 12, item 8). Placeholder."""

from __future__ import annotations

import click


@click.command()
def check() -> None:
    """Check the configuration, the state store, Allegro and Kafka (one line each)."""
    raise click.ClickException("not implemented yet")
