"""`openoms-allegro dead-letters list|retry|clear`: quarantined orders (issue 12, item 9).

The state store indexes what is on the dead-letter topic (id, attempts, error, when); the
topic keeps the full record (the raw payload). `list` only reads; `retry` and `clear` run as
the account's only writer, refused at once while another process writes
(entrypoints/operations.py).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from application.operator import OperatorRefusal
from entrypoints.cli_support import EXIT_CONFIG, EXIT_FAILURE, execute, load_and_log

if TYPE_CHECKING:
    from application.operator import DeadLetterReport, RetryReport
    from application.sweep import RetryResult
    from entrypoints.wiring import Wired

LIST_LIMIT = 1000


@click.group("dead-letters")
def dead_letters() -> None:
    """List quarantined orders, retry them, clear an order's failure count."""


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _one_line(text: str) -> str:
    """An error as one line of a table (the full text is on the dead-letter topic)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 160 else flat[:157] + "..."


def _report_json(account: str, report: DeadLetterReport) -> str:
    payload = {
        "account": account,
        "quarantined": [
            {
                "checkout_form_id": q.checkout_form_id,
                "allegro_event_id": q.allegro_event_id,
                "attempts": q.attempts,
                "error": q.error,
                "failed_at": _iso(q.failed_at),
            }
            for q in report.quarantined
        ],
        "failing": [
            {
                "checkout_form_id": f.checkout_form_id,
                "attempts": f.attempts,
                "error": f.last_error,
                "last_failed_at": _iso(f.updated_at),
            }
            for f in report.failing
        ],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False)


def _report_text(account: str, report: DeadLetterReport, max_attempts: int) -> str:
    lines = [f"quarantined for account {account!r} (on the dead-letter topic): "]
    if report.quarantined:
        lines[0] += str(len(report.quarantined))
        lines += [
            f"  {q.checkout_form_id}  attempts {q.attempts}  {_iso(q.failed_at)}  "
            f"{_one_line(q.error)}"
            for q in report.quarantined
        ]
    else:
        lines[0] += "none"
    failing = f"still failing (retried; quarantined after {max_attempts} attempts): "
    if report.failing:
        lines.append(failing + str(len(report.failing)))
        lines += [
            f"  {f.checkout_form_id}  attempts {f.attempts}/{max_attempts}  "
            f"{_iso(f.updated_at)}  {_one_line(f.last_error)}"
            for f in report.failing
        ]
    else:
        lines.append(failing + "none")
    return "\n".join(lines)


@dead_letters.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def dead_letters_list(as_json: bool) -> None:
    """Quarantined orders and orders still failing (read-only: creates no state)."""
    from application.operator import dead_letter_report
    from entrypoints.operations import reading

    async def action() -> None:
        settings = load_and_log()

        async def load(wired: Wired) -> DeadLetterReport:
            store = await wired.state_store()
            return await dead_letter_report(store, settings.allegro_account, LIST_LIMIT)

        report = await reading(settings, load)
        account = settings.allegro_account
        if as_json:
            click.echo(_report_json(account, report))
        else:
            click.echo(_report_text(account, report, settings.dead_letter_after_attempts))

    execute(action)


def _result_line(result: RetryResult, max_attempts: int) -> str:
    form_id = result.checkout_form_id
    if result.gone:
        return f"{form_id}: gone (404: merged into another order or past 12 months); cleared"
    if result.error is not None:
        state = "quarantined again" if result.quarantined else "still failing"
        return (
            f"{form_id}: {state} (attempt {result.attempts} of {max_attempts}): "
            f"{_one_line(result.error)}"
        )
    if result.published:
        return f"{form_id}: published {result.published} event(s)"
    return f"{form_id}: decided, nothing new to publish (already up to date)"


def _result_json(result: RetryResult) -> dict[str, Any]:
    outcome = "gone" if result.gone else "failing" if result.error is not None else "decided"
    return {
        "checkout_form_id": result.checkout_form_id,
        "outcome": outcome,
        "published": result.published,
        "error": result.error,
        "attempts": result.attempts,
        "quarantined": result.quarantined,
    }


def _require_form_ids(keys: tuple[str, ...]) -> None:
    """Refuses a typo before anything is read or written: the pipeline would count it as a
    failing order (and quarantine it in the end). A quarantined journal entry's key passes
    on to its own refusal (`retry_dead_letters`)."""
    from adapters.allegro.identifiers import is_checkout_form_id
    from application.operator import is_malformed_event

    for key in keys:
        if not is_checkout_form_id(key) and not is_malformed_event(key):
            click.echo(
                f"error: {key!r} is not a checkout form id: Allegro's are UUIDs "
                "(`dead-letters list` shows the quarantined ones)",
                err=True,
            )
            sys.exit(EXIT_CONFIG)


@dead_letters.command("retry")
@click.argument("checkout_form_ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every quarantined order.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def dead_letters_retry(checkout_form_ids: tuple[str, ...], every: bool, as_json: bool) -> None:
    """Read the orders from Allegro again and run them through the normal pipeline.

    Exit 0 when every order was decided or is gone; 1 when one still fails."""
    from application.operator import retry_dead_letters
    from entrypoints.operations import actor, as_only_writer
    from entrypoints.service import check_run_settings

    if bool(checkout_form_ids) == every:
        click.echo("error: name the checkout form ids to retry, or give --all", err=True)
        sys.exit(EXIT_CONFIG)
    _require_form_ids(checkout_form_ids)
    command = "dead-letters retry" + (" --all" if every else "")

    async def action() -> None:
        settings = load_and_log()
        check_run_settings(settings)
        account = settings.allegro_account

        async def work(wired: Wired) -> RetryReport:
            store = await wired.state_store()
            imports = await wired.order_import()
            ids = None if every else list(checkout_form_ids)
            return await retry_dead_letters(imports.sweep, store, account, ids, actor=actor())

        try:
            report = await as_only_writer(settings, command, work)
        except OperatorRefusal as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_FAILURE)
        attempts = settings.dead_letter_after_attempts
        if as_json:
            payload = {
                "account": account,
                "results": [_result_json(result) for result in report.results],
                "skipped": list(report.skipped),
            }
            click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        else:
            if not report.results and not report.skipped:
                click.echo(f"nothing is quarantined for account {account!r}")
            for result in report.results:
                click.echo(_result_line(result, attempts))
            for key in report.skipped:
                click.echo(f"{key}: a journal entry, not a checkout form: nothing to re-read")
        if any(result.error is not None for result in report.results):
            sys.exit(EXIT_FAILURE)

    execute(action)


@dead_letters.command("clear")
@click.argument("checkout_form_id")
def dead_letters_clear(checkout_form_id: str) -> None:
    """Forget an order's failure count and its quarantine entry (next failure counts from 1)."""
    from application.operator import clear_failure
    from entrypoints.operations import actor, as_only_writer

    async def action() -> None:
        settings = load_and_log()
        account = settings.allegro_account

        async def work(wired: Wired) -> bool:
            store = await wired.state_store()
            return await clear_failure(store, account, checkout_form_id, actor=actor())

        if await as_only_writer(settings, f"dead-letters clear {checkout_form_id}", work):
            click.echo(f"{checkout_form_id}: failure count and quarantine entry cleared")
        else:
            click.echo(f"{checkout_form_id}: nothing to clear (not failing, not quarantined)")

    execute(action)
