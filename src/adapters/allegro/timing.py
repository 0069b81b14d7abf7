"""Time as injectable dependencies, so unit tests run on a fake clock without real sleeps."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from application.ports.clock import Clock, SystemClock

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Jitter = Callable[[float], float]


def full_jitter(ceiling: float) -> float:
    return random.uniform(0.0, ceiling)


@dataclass(frozen=True)
class Timing:
    """Wall clock (token expiry, HTTP dates), monotonic clock (bucket), sleep and jitter."""

    clock: Clock = field(default_factory=SystemClock)
    monotonic: Monotonic = time.monotonic
    sleep: Sleep = asyncio.sleep
    jitter: Jitter = full_jitter
