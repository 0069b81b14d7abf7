"""Child process of the backfill benchmark: one sweep, then its figures as JSON on stdout.

Run by `scenarios.backfill` in a fresh interpreter so that VmHWM is this sweep's peak alone.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import SimInfo, peak_rss_mb
from pipeline import pipeline

from entrypoints.gc_tuning import tune_gc


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    info = SimInfo(spec["url"], spec["client_id"], spec["client_secret"])
    since = datetime.fromtimestamp(spec["since"], UTC)
    until = datetime.fromtimestamp(spec["until"] + 0.0005, UTC)  # boughtAt has milliseconds
    async with pipeline(
        info, spec["refresh_token"], spec["bootstrap_servers"], Path(spec["workdir"])
    ) as pipe:
        pipe.publisher.keep_latencies = False
        started = time.perf_counter()
        outcome = await pipe.sweep().run(since, until)
        seconds = time.perf_counter() - started
    return {
        "seen": outcome.seen,
        "published": pipe.publisher.published,
        "requests": outcome.requests,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


if __name__ == "__main__":
    tune_gc()  # as `openoms-allegro backfill` does
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
