"""Two request classes inside the client id's one per-minute budget: the import and the commands.

Both classes draw from the same `TokenBucket` (rate_limit.py), so together they never exceed
the budget (docs/allegro-api.md, Errors and rate limits). Each class also has a cap of its own,
`(1 - the other class's minimum share) x budget` in the budget's sliding window
(`rate_limit.WINDOW_SECONDS`), so neither can take what the other is guaranteed.

Why a cap is enough for the minimum share: a `ShareLimiter` lets one request of its class at a
time wait in the bucket (it holds its turn across `TokenBucket.acquire`), and the bucket serves
its waiters in arrival order. With both classes busy they therefore take the bucket's tokens in
turn, half the budget each, unless one class's cap is below half: that class is then held to
its cap and the other takes the rest. A class with a minimum share `m` gets at least `m` of the
budget either way: half when `m <= 1/2`, and when `m > 1/2` the other's cap `(1 - m)` is below
half, so it gets the rest, `m` (the shares summing to at most 1 keeps its own cap, `1 - the
other's minimum share`, at least `m`). A class alone is held to its cap only.

The class's slot is stamped when the bucket lets the request go (not when it starts waiting),
so the cap counts departures in the same window as the bucket does.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from adapters.allegro.rate_limit import WINDOW_SECONDS
from adapters.allegro.timing import Monotonic, Sleep, Timing

# Float arithmetic may leave a wait a hair short of the window's end; below this it is over
# (a wait shorter than the clock's resolution would never end on a fake clock).
_EPSILON = 1e-9
# The largest minimum share of one class: the other always keeps a tenth of the budget.
MAX_MIN_SHARE = 0.9
DEFAULT_IMPORT_MIN_SHARE = 0.5
DEFAULT_COMMANDS_MIN_SHARE = 0.2


def check_min_shares(import_min_share: float, commands_min_share: float) -> None:
    """ValueError unless each share is in 0..MAX_MIN_SHARE and both sum to at most 1."""
    for name, share in (
        ("import_min_share", import_min_share),
        ("commands_min_share", commands_min_share),
    ):
        if not 0.0 <= share <= MAX_MIN_SHARE:  # also rejects NaN
            raise ValueError(f"{name} must be between 0 and {MAX_MIN_SHARE}, got {share}")
    if import_min_share + commands_min_share > 1.0 + _EPSILON:
        raise ValueError(
            "import_min_share + commands_min_share must not exceed 1, got "
            f"{import_min_share} + {commands_min_share}"
        )


def class_cap(per_minute: int, other_min_share: float) -> int:
    """Requests one class may send in the budget's window: what the other class's minimum
    share leaves, rounded down (never below one request, so a tiny budget cannot stall a
    class for good)."""
    return max(1, math.floor((1.0 - other_min_share) * per_minute + _EPSILON))


class ShareLimiter:
    """At most `limit` departures of one request class in any `window_seconds`."""

    def __init__(
        self,
        name: str,
        limit: int,
        window_seconds: float = WINDOW_SECONDS,
        *,
        monotonic: Monotonic,
        sleep: Sleep,
    ) -> None:
        if limit < 1 or not window_seconds > 0:
            raise ValueError("a share limiter needs limit >= 1 and window_seconds > 0")
        self.name = name
        self.limit = limit
        self._window = window_seconds
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: deque[float] = deque(maxlen=limit)  # the last `limit` departure times
        # FIFO, held across the wait in the shared bucket: one request of the class at a time
        # waits there, which is what lets the two classes alternate (see the module's doc).
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait until one more request of the class fits in the window, then hold the class's
        turn while the body takes the shared bucket's token; the slot is stamped when the body
        ends normally (a cancelled or failed wait takes none)."""
        async with self._lock:
            while True:
                delay = self._delay(self._monotonic())
                if delay <= _EPSILON:
                    break
                await self._sleep(delay)
            yield
            self._sent.append(self._monotonic())

    def _delay(self, now: float) -> float:
        if len(self._sent) < (self._sent.maxlen or 0):
            return 0.0
        return self._sent[0] + self._window - now


@dataclass(frozen=True)
class BudgetShares:
    """The two classes' limiters of one client."""

    imports: ShareLimiter
    commands: ShareLimiter

    @classmethod
    def build(
        cls,
        per_minute: int,
        import_min_share: float,
        commands_min_share: float,
        timing: Timing,
    ) -> BudgetShares:
        check_min_shares(import_min_share, commands_min_share)
        return cls(
            imports=ShareLimiter(
                "import",
                class_cap(per_minute, commands_min_share),
                monotonic=timing.monotonic,
                sleep=timing.sleep,
            ),
            commands=ShareLimiter(
                "commands",
                class_cap(per_minute, import_min_share),
                monotonic=timing.monotonic,
                sleep=timing.sleep,
            ),
        )
