"""Small shared pieces with no heavy imports (the backfill probe measures its own memory)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimInfo:
    url: str
    client_id: str
    client_secret: str


def reference_seconds(repeat: int = 3) -> float:
    """CPU seconds of a fixed pure-Python loop (10 million additions), best of `repeat`: how
    fast this machine runs Python right now. Shared machines vary by 2x between sessions and
    within one, so figures are comparable only between runs with similar values."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        total = 0
        for n in range(10_000_000):
            total += n
        best = min(best, time.process_time() - started)
    return best


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM) in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
