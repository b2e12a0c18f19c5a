"""A global retry budget: in a sliding window, retries stay under ratio x requests + a floor."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class RetryBudget:
    """Counts requests and retries per second over `window_s`; a retry is allowed only while under budget."""

    def __init__(self, ratio: float, minimum: int, clock: Callable[[], float], *, window_s: int = 10) -> None:
        self._ratio = ratio
        self._minimum = minimum
        self._clock = clock
        self._window_s = window_s
        self._buckets: deque[list[int]] = deque()  # [second, requests, retries], oldest first

    def _current(self) -> list[int]:
        second = int(self._clock())
        while self._buckets and self._buckets[0][0] <= second - self._window_s:
            self._buckets.popleft()
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0])
        return self._buckets[-1]

    def record_request(self) -> None:
        """One more request entered the router."""
        self._current()[1] += 1

    def try_acquire_retry(self) -> bool:
        """Take one retry from the budget; False when the window has no room left."""
        bucket = self._current()
        requests = sum(b[1] for b in self._buckets)
        retries = sum(b[2] for b in self._buckets)
        if retries >= self._ratio * requests + self._minimum:
            return False
        bucket[2] += 1
        return True
