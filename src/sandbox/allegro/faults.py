"""Deciding, per REST request, whether the simulated Allegro misbehaves."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sandbox.allegro.config import FaultPlan

_SERVER_ERRORS = (500, 503, 504)


@dataclass(frozen=True, slots=True)
class Verdict:
    status: int | None = None  # answer with this error status instead of the real response
    block: bool = False  # a rate-limit fault also blocks the client, like the real limit
    delay: float = 0.0  # seconds to wait before answering (whatever the answer is)
    hang: float = 0.0  # seconds to hold the request, then 504: the client should time out first


PASS = Verdict()


def decide(plan: FaultPlan, rng: random.Random) -> Verdict:
    """The queue first (deterministic tests), then the random faults.

    A rate of 0 draws nothing from the RNG, so enabling one fault does not reshuffle the
    sequence another test relies on.
    """
    if plan.next_errors:
        return Verdict(status=plan.next_errors.pop(0))
    delay = plan.delay_seconds if _hit(plan.delay_rate, rng) else 0.0
    if _hit(plan.timeout_rate, rng):
        return Verdict(hang=plan.hang_seconds, delay=delay)
    if _hit(plan.error_rate, rng):
        return Verdict(status=rng.choice(_SERVER_ERRORS), delay=delay)
    if _hit(plan.rate_limit_rate, rng):
        return Verdict(status=429, block=True, delay=delay)
    return Verdict(delay=delay) if delay else PASS


def decide_lost_write(plan: FaultPlan, rng: random.Random) -> str | None:
    """For a write that succeeded: the way its answer gets lost, or None if it arrives.

    Asked only after the write took effect, so the queue is spent on successes alone.
    """
    if plan.lose_next_writes > 0:
        plan.lose_next_writes -= 1
        return plan.lost_write_mode
    if _hit(plan.lost_write_rate, rng):
        return plan.lost_write_mode
    return None


def _hit(rate: float, rng: random.Random) -> bool:
    return rate > 0 and rng.random() < rate
