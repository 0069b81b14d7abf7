"""What `/metrics` costs the service: one Allegro request observed, one scrape rendered.

`.venv/bin/python bench/metrics_overhead.py` (a few seconds). The pipeline benchmarks
(`bench/run.py`) run the adapters without the metrics observer, so this is measured apart.
"""

from __future__ import annotations

import timeit

from entrypoints.metrics import Metrics

REQUESTS = 200_000
SCRAPES = 200


def main() -> None:
    metrics = Metrics()
    took = timeit.timeit(
        lambda: metrics.request("/order/checkout-forms/{id}", 200, 0.012), number=REQUESTS
    )
    print(f"one Allegro request observed: {took / REQUESTS * 1e6:.2f} µs")
    took = timeit.timeit(metrics.render, number=SCRAPES)
    print(f"one /metrics rendered: {took / SCRAPES * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
