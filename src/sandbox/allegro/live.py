"""Keeps events flowing for the demo: new purchases and progressing orders on every tick."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Sequence

from sandbox.allegro.lifecycles import LIFECYCLES, POST_IMPORT_LIFECYCLES, Interleaver
from sandbox.allegro.state import OfferRejected, SimulatorState

log = logging.getLogger(__name__)


def start_live_activity(
    state: SimulatorState,
    interval_seconds: float,
    stop_event: threading.Event,
    *,
    seed: int = 0,
    new_orders_per_tick: tuple[int, int] = (0, 2),
    steps_per_tick: int = 6,
    max_active: int = 50,
    post_import: bool = True,
    offer_sales_per_tick: tuple[int, int] = (0, 2),
) -> threading.Thread:
    """Run until `stop_event` is set; returns the (daemon) thread already started.

    With `post_import` (the default) a share of the orders also changes after payment: an
    address change (BUYER_MODIFIED), a One Fulfillment order, an extended-term payment, a
    partial shipment, so a demo shows them arriving.
    """
    if interval_seconds <= 0:
        raise ValueError("interval_seconds must be positive")
    rng = random.Random(seed)
    runner = Interleaver(state, rng, POST_IMPORT_LIFECYCLES if post_import else LIFECYCLES)

    def tick() -> None:
        # A lifecycle takes ~5 steps: 6 steps a tick finish more orders than the ~1 a tick
        # that start, and the cap keeps a long demo from piling up half-done orders.
        for _ in range(rng.randint(*new_orders_per_tick)):
            if runner.active < max_active:
                runner.start()
        for _ in range(steps_per_tick):
            runner.step()
        offers = state.offer_ids()
        if offers:  # no draw without offers: the orders' random sequence stays as it was
            sell_offers(state, rng, offers, rng.randint(*offer_sales_per_tick))

    def loop() -> None:
        while not stop_event.wait(interval_seconds):
            try:
                tick()
            except Exception:  # keep the demo alive; one bad step must not end the stream
                log.exception("live activity step failed")

    thread = threading.Thread(target=loop, name="allegro-simulator-live", daemon=True)
    thread.start()
    return thread


def sell_offers(
    state: SimulatorState, rng: random.Random, offers: Sequence[str], count: int
) -> None:
    """Buyers take one item of `count` offers picked at random (an offer that cannot sell,
    ended or empty, is skipped): stock moves on Allegro's side, and the offer events follow."""
    for _ in range(count):
        try:
            state.sell_offer(rng.choice(offers), 1)
        except OfferRejected:
            continue
