"""The garbage collector, tuned for a long-running import.

An import allocates many short-lived objects (decoded pages, snapshots, messages) that
reference counting frees at once; the cyclic collector only adds work. With CPython's
default thresholds (700, 10, 10) it runs full collections over every object of the process
that find almost no garbage (the figures are in docs/performance.md). So, once start-up is
over, `gc.freeze()` moves what start-up built (modules, pydantic schemas, the wiring) out of
the collector's sight, and larger thresholds make collections rarer. Reference cycles are
still collected, later: the HTTP adapter breaks the one httpx makes per response (see
`adapters.allegro.api._unbound`), so a rare collection does not keep response bodies alive
(backfill memory stays flat).
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 20, 20)  # allocations before a young collection; then as CPython does


def tune_gc() -> None:
    """Call once, after imports and wiring, before the import starts."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
