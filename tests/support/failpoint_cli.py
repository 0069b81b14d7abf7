"""`openoms-allegro` with crash-test failpoints: `python -m tests.support.failpoint_cli run`.

The normal CLI (`entrypoints.cli.main`), after `OPENOMS_FAILPOINTS` (see
tests/support/failpoints.py) has been installed into the composition root. Run from the
repository root, so that `tests` is importable (tests/support/process.py does).
"""

from __future__ import annotations

import os
import sys

from entrypoints.cli import main
from entrypoints.cli_support import EXIT_CONFIG
from tests.support.failpoints import install, parse

FAILPOINTS = "OPENOMS_FAILPOINTS"
# Optional, comma-separated `OutboundMessage` channels (e.g. `command_results`): only a send
# holding one of them may be killed.
FAILPOINT_CHANNELS = "OPENOMS_FAILPOINT_CHANNELS"


def run() -> None:
    spec = os.environ.get(FAILPOINTS, "")
    try:
        points = parse(spec)
    except ValueError as exc:
        sys.exit(_refuse(str(exc)))
    if not points:
        # A crash test whose failpoints are missing would pass while proving nothing.
        sys.exit(_refuse(f"{FAILPOINTS} is empty; name at least one failpoint"))
    channels = os.environ.get(FAILPOINT_CHANNELS, "")
    install(spec, frozenset(c for c in channels.split(",") if c) or None)
    main()


def _refuse(message: str) -> int:
    print(f"configuration error: {message}", file=sys.stderr)
    return EXIT_CONFIG


if __name__ == "__main__":
    run()
