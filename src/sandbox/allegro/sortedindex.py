"""A sorted multiset in buckets: O(log n + √n)-ish insert, remove, rank and range reads.

A flat sorted list would memmove the whole index on every re-keyed order (100 000 orders,
several `updatedAt` changes each); buckets keep every change local.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator

Key = tuple[int, str]
_LOAD = 512


class SortedIndex:
    def __init__(self) -> None:
        self._buckets: list[list[Key]] = []
        self._maxes: list[Key] = []
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def add(self, key: Key) -> None:
        self._len += 1
        if not self._buckets:
            self._buckets.append([key])
            self._maxes.append(key)
            return
        pos = bisect_left(self._maxes, key)
        if pos == len(self._buckets):
            pos -= 1
            self._buckets[pos].append(key)
            self._maxes[pos] = key
        else:
            insort(self._buckets[pos], key)
        if len(self._buckets[pos]) > 2 * _LOAD:
            bucket = self._buckets[pos]
            self._buckets[pos : pos + 1] = [bucket[:_LOAD], bucket[_LOAD:]]
            self._maxes[pos : pos + 1] = [bucket[_LOAD - 1], bucket[-1]]

    def remove(self, key: Key) -> None:
        pos = bisect_left(self._maxes, key)
        if pos == len(self._buckets):
            raise KeyError(key)
        bucket = self._buckets[pos]
        idx = bisect_left(bucket, key)
        if idx == len(bucket) or bucket[idx] != key:
            raise KeyError(key)
        del bucket[idx]
        self._len -= 1
        if bucket:
            self._maxes[pos] = bucket[-1]
        else:
            del self._buckets[pos]
            del self._maxes[pos]

    def rank(self, key: Key, *, right: bool = False) -> int:
        """How many keys are < key (or <= key with right=True)."""
        pos = bisect_right(self._maxes, key) if right else bisect_left(self._maxes, key)
        before = sum(len(b) for b in self._buckets[:pos])
        if pos == len(self._buckets):
            return before
        bucket = self._buckets[pos]
        return before + (bisect_right(bucket, key) if right else bisect_left(bucket, key))

    def iter_range(self, start: int, stop: int, *, reverse: bool = False) -> Iterator[Key]:
        """Keys with rank in [start, stop), ascending or descending."""
        if start >= stop:
            return
        if reverse:
            yield from self._iter_desc(start, stop)
            return
        skip = start
        remaining = stop - start
        for bucket in self._buckets:
            if skip >= len(bucket):
                skip -= len(bucket)
                continue
            chunk = bucket[skip : skip + remaining]
            skip = 0
            yield from chunk
            remaining -= len(chunk)
            if remaining <= 0:
                return

    def _iter_desc(self, start: int, stop: int) -> Iterator[Key]:
        # Walk buckets from the top, yielding ranks stop-1 down to start.
        position = self._len
        for bucket in reversed(self._buckets):
            low = position - len(bucket)
            if low >= stop:
                position = low
                continue
            hi_idx = min(stop, position) - low
            lo_idx = max(start, low) - low
            yield from reversed(bucket[lo_idx:hi_idx])
            position = low
            if low <= start:
                return
