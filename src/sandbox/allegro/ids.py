"""Identifiers in Allegro's formats, drawn from a seeded RNG so a seed reproduces a run."""

from __future__ import annotations

import random
import string
import uuid
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

_T = TypeVar("_T")

# 100-ns intervals between the Gregorian reform (UUID v1 epoch) and the Unix epoch.
_UUID_EPOCH_OFFSET = 0x01B21DD213814000
_ALNUM = string.ascii_lowercase + string.digits


class FastRandom(random.Random):
    """`choice`/`randrange` from one float draw: bulk generation makes ~40 of them per order,
    and the stock versions (rejection sampling over getrandbits) dominated the profile."""

    def choice(self, seq: SupportsLenAndGetItem[_T]) -> _T:
        return seq[int(self.random() * len(seq))]

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is None:
            start, stop = 0, start
        if step != 1 or stop <= start:
            return super().randrange(start, stop, step)
        return start + int(self.random() * (stop - start))


class IdFactory:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        # One "node" per simulated data centre, like the shared tail in real order ids.
        self._node = rng.getrandbits(48) | 0x020000000000
        self._last_stamp = 0

    def uuid1(self, wall_us: int) -> str:
        """A time-based (v1) UUID; strictly increasing stamps make duplicates impossible."""
        stamp = max(
            wall_us * 10 + _UUID_EPOCH_OFFSET + self._rng.randrange(10), self._last_stamp + 1
        )
        self._last_stamp = stamp
        clock_seq = self._rng.getrandbits(14) | 0x8000  # RFC 4122 variant bits
        return (
            f"{stamp & 0xFFFFFFFF:08x}-{(stamp >> 32) & 0xFFFF:04x}-"
            f"{((stamp >> 48) & 0x0FFF) | 0x1000:04x}-{clock_seq:04x}-{self._node:012x}"
        )

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def revision(self, previous: str | None = None) -> str:
        while True:
            value = f"{self._rng.getrandbits(32):08x}"
            if value != previous:
                return value

    def offer_id(self) -> str:
        """10-11 digits, like `13203724740`."""
        return str(self._rng.randrange(1_000_000_000, 20_000_000_000))

    def user_id(self) -> str:
        return str(self._rng.randrange(100_000, 130_000_000))

    def masked_email(self) -> str:
        """Allegro relays buyer mail through a masked address, e.g. `8v6kg4wadf+120f954a6@…`."""
        local = "".join(self._rng.choice(_ALNUM) for _ in range(10))
        return f"{local}+{self._rng.getrandbits(36):09x}@allegromail.pl"

    def digits(self, count: int) -> str:
        if count > 15:
            return self.digits(count - 15) + self.digits(15)
        return f"{self._rng.randrange(10**count):0{count}d}"
