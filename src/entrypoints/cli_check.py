"""`openoms-allegro check`: the pre-flight check (issue 12, item 8; see entrypoints/check).

Exit codes: 0 when every dependency passed, 1 when one failed (its line says what to fix),
2 for bad configuration (one line naming the variable, as every command).
"""

from __future__ import annotations

import sys

import click

from entrypoints.cli_support import EXIT_FAILURE, execute, load_and_log


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(as_json: bool) -> None:
    """Check the configuration, the state store, the tokens, Allegro and Kafka (one line each)."""
    from application.ports import SystemClock
    from entrypoints.check import render, run_check

    async def action() -> bool:
        settings = load_and_log()
        report = await run_check(settings, SystemClock())
        click.echo(render(report, as_json))
        return report.ok

    if not execute(action):
        sys.exit(EXIT_FAILURE)
