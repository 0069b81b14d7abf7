"""What every command of the CLI shares: settings with logging, exit codes, one-line errors.

Exit codes: 0 success, 2 bad configuration (one line naming the variable), 1 anything else
(a dependency failing, or a StartupError: the HTTP port in use, no tokens stored yet).
Expected failures print one line, never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from typing import Any

import click

from application.ports import PortError
from entrypoints.errors import StartupError
from entrypoints.gc_tuning import tune_gc
from entrypoints.logging_setup import configure_logging
from entrypoints.settings import ConfigurationError, Settings, load_settings

EXIT_CONFIG = 2
EXIT_FAILURE = 1
DISTRIBUTION = "openoms-allegro"


def version() -> str:
    try:
        return distribution_version(DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without install
        return "unknown"


def load_and_log() -> Settings:
    """Settings from the environment, and logging configured by them."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format, account=settings.allegro_account)
    return settings


def execute(action: Callable[[], Coroutine[Any, Any, Any]], *, long_running: bool = False) -> Any:
    """Runs `action`; a long-running import first tunes the garbage collector (gc_tuning)."""
    if long_running:
        tune_gc()
    try:
        return asyncio.run(action())
    except ConfigurationError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except StartupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    except PortError as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    except KeyboardInterrupt:
        sys.exit(EXIT_FAILURE)
