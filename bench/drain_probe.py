"""Child process of the `run --once` memory benchmark: the CLI's `openoms-allegro run --once`,
configured by environment variables as the service is, then its summary and figures as JSON.

Run by `scenarios.drain_memory` in a fresh interpreter so that VmHWM is this drain's peak alone.
"""

from __future__ import annotations

import contextlib
import io
import json
import time

from common import peak_rss_mb

from entrypoints.cli import main as cli

if __name__ == "__main__":
    started = time.perf_counter()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        # The CLI's own path: settings from the environment, gc tuning, `drain_once`.
        cli(["run", "--once"], standalone_mode=False)
    seconds = time.perf_counter() - started
    summary = json.loads(printed.getvalue().strip().splitlines()[-1])
    figures = {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb(), 1)}
    print(json.dumps({**summary, **figures}))
