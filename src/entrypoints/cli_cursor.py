"""`openoms-allegro cursor show|set|reset`: where the journal is read from, and moving it
(Kafka Connect's offsets API, for this connector). Moves are refused while another process
writes the account (entrypoints/operations.py) and logged at INFO with who asked."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

from application.operator import EARLIEST, LATEST, CursorMove, OperatorRefusal, describe
from application.ports.state import Cursor
from entrypoints.cli_support import EXIT_CONFIG, EXIT_FAILURE, execute, load_and_log

if TYPE_CHECKING:
    from entrypoints.wiring import Wired

# Where the cursor goes, found under the writer lock or lease: (position, note).
Locate = Callable[["Wired", datetime], Awaitable[tuple[Cursor, str | None]]]


@click.group()
def cursor() -> None:
    """Show or move the order journal cursor (refused while the service runs)."""


def _refuse(exc: OperatorRefusal, code: int = EXIT_FAILURE) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(code)


def _event_time(position: str | None) -> str | None:
    from application.reconcile import cursor_time

    moment = None if position is None else cursor_time(Cursor(position))
    return None if moment is None else moment.isoformat(timespec="seconds")


def _text(cursor_: Cursor | None) -> str:
    text = describe(cursor_)
    moment = _event_time(cursor_.position) if cursor_ is not None else None
    return f"{text} (event time {moment})" if moment else text


def _echo_move(account: str, move: CursorMove) -> None:
    click.echo(
        f"cursor of account {account!r} moved: {_text(move.previous)} -> {_text(move.current)}"
    )
    if move.note:
        click.echo(f"note: {move.note}")


@cursor.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
def cursor_show(as_json: bool) -> None:
    """The last journal event fully processed (read-only: creates no state)."""
    from entrypoints.operations import reading

    async def action() -> None:
        settings = load_and_log()

        async def load(wired: Wired) -> Cursor | None:
            store = await wired.state_store()
            return await store.load_cursor(settings.allegro_account)

        stored = await reading(settings, load)
        if as_json:
            payload: dict[str, Any] = {
                "account": settings.allegro_account,
                "stored": stored is not None,
                "position": stored.position if stored else None,
                "event_time": _event_time(stored.position) if stored else None,
            }
            click.echo(json.dumps(payload))
            return
        click.echo(f"cursor of account {settings.allegro_account!r}: {_text(stored)}")

    execute(action)


@cursor.command("set")
@click.argument("event_id")
def cursor_set(event_id: str) -> None:
    """Continue after journal event EVENT_ID (its events are not read again)."""
    from application.operator import event_id as parse_event_id

    try:
        position = parse_event_id(event_id)
    except OperatorRefusal as exc:
        _refuse(exc, EXIT_CONFIG)

    async def given(wired: Wired, now: datetime) -> tuple[Cursor, str | None]:
        return Cursor(position), None

    _move("cursor set", given)


@cursor.command("reset")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="latest|earliest|DATE",
    help="latest: the newest event now; earliest: the oldest retained; DATE: ISO (UTC).",
)
def cursor_reset(target: str) -> None:
    """Move the cursor to the newest event, the oldest retained one, or a date."""
    from application.operator import parse_date

    if target not in (LATEST, EARLIEST):
        try:
            parse_date(target)
        except OperatorRefusal as exc:
            _refuse(exc, EXIT_CONFIG)
    _move(f"cursor reset --to {target}", lambda wired, now: _locate(wired, target, now))


async def _locate(wired: Wired, target: str, now: datetime) -> tuple[Cursor, str | None]:
    from application.operator import target_position

    if target == EARLIEST:  # no request to Allegro needed
        return Cursor(None), None
    client = await wired.allegro()
    return await target_position(client.journal, target, now)


def _move(command: str, locate: Locate) -> None:
    """Under the writer lock or lease: where to (`locate(wired, now)`), then the move."""
    from application.operator import move_cursor
    from entrypoints.operations import actor, as_only_writer

    async def action() -> None:
        settings = load_and_log()
        account = settings.allegro_account

        async def work(wired: Wired) -> CursorMove:
            now = wired.clock.now()
            position, note = await locate(wired, now)
            store = await wired.state_store()
            return await move_cursor(
                store, account, position, command=command, actor=actor(), note=note
            )

        try:
            move = await as_only_writer(settings, command, work)
        except OperatorRefusal as exc:
            _refuse(exc)
        _echo_move(account, move)

    execute(action)
