"""Per-person rate limit: at most ``limit`` messages in any ``window`` seconds (a sliding window).

Only accepted messages count, so a person who keeps writing while limited gets through again as soon as
their older messages leave the window. Each person has their own window: one flood slows nobody else.
Memory is bounded: people idle for a whole window are forgotten.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable


class RateLimiter:
    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._next_sweep = clock() + window

    def allow(self, key: Hashable) -> bool:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def _sweep(self, now: float) -> None:
        stale = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]
        for key in stale:
            del self._hits[key]
        self._next_sweep = now + self.window

    def __len__(self) -> int:
        return len(self._hits)


class Failures:
    """Failed attempts per key in a sliding window (wrong passwords, wrong codes): ``blocked`` once there
    were ``limit`` of them in the last ``window`` seconds. Keys idle for a whole window are forgotten."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._counter = RateLimiter(limit, window, clock)

    def blocked(self, key: Hashable) -> bool:
        counter = self._counter
        now = counter._clock()
        hits = counter._hits.get(key)
        while hits and hits[0] <= now - counter.window:
            hits.popleft()
        return hits is not None and len(hits) >= counter.limit

    def add(self, key: Hashable) -> None:
        self._counter.allow(key)
