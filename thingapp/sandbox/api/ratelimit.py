"""The API's rate limit: `limit` requests per fixed window of `window_s` seconds, per key.

A key (a live token, or the client address for requests without one) opens its window with its
first request; the window closes `window_s` later, and the key's next request opens a new one.
Past `limit` requests in a window the API answers 429 with `Retry-After`: the whole seconds until
the window closes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Spent:
    """What one request left: how many remain in the window (0 at the least), whether it was over
    the limit, and how long until the window closes."""

    remaining: int
    over_limit: bool
    resets_in_s: float

    @property
    def retry_after(self) -> str:
        """`Retry-After` in whole seconds, rounded up, at least 1."""
        return str(max(1, math.ceil(self.resets_in_s)))


@dataclass
class _Window:
    opened_at: float
    spent: int = 0


# Past this many keys, closed windows are forgotten (a long-running demo can't grow forever).
PRUNE_ABOVE = 10_000


class RateLimiter:
    """Counts requests per key in fixed windows."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def spend(self, key: str) -> Spent:
        """Count one request against `key`."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now >= window.opened_at + self.window_s:
            if len(self._windows) > PRUNE_ABOVE:
                self._prune(now)
            window = self._windows[key] = _Window(now)
        window.spent += 1
        return Spent(
            remaining=max(self.limit - window.spent, 0),
            over_limit=window.spent > self.limit,
            resets_in_s=window.opened_at + self.window_s - now,
        )

    def _prune(self, now: float) -> None:
        closed = [k for k, w in self._windows.items() if now >= w.opened_at + self.window_s]
        for key in closed:
            del self._windows[key]
