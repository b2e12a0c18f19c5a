"""Per-minute request and token limits as token buckets (continuous refill, the GCRA shape), local to a replica."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

import msgspec

Scope = tuple[str, str]  # ("key", key_id) | ("team", team)


class Bucket:
    """Holds up to `capacity` units, refilled continuously at capacity/60 per second; may go into debt."""

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / 60.0
        self.level = float(capacity)
        self.updated = now

    def refill(self, now: float) -> None:
        """Bring the level up to date."""
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` (clamped to the capacity, so a big request is not starved) is available."""
        need = min(amount, self.capacity) - self.level
        return 0.0 if need <= 0 else need / self.rate

    def full_in(self) -> float:
        """Seconds until the bucket is full again (OpenAI's `x-ratelimit-reset-*`)."""
        return max(0.0, (self.capacity - self.level) / self.rate)


class LimitState(msgspec.Struct, kw_only=True, frozen=True):
    """The tightest bucket of one kind after a decision, for the x-ratelimit-* headers."""

    limit: int
    remaining: int
    reset_s: float


class RateDecision(msgspec.Struct, kw_only=True, frozen=True):
    """Admitted or not; when not, how long to wait; the header values either way."""

    allowed: bool
    retry_after_s: float = 0.0
    requests: LimitState | None = None
    tokens: LimitState | None = None


def format_reset(seconds: float) -> str:
    """OpenAI's duration style: `850ms`, `6s`, `1m30s`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _state(buckets: list[Bucket]) -> LimitState | None:
    if not buckets:
        return None
    tightest = min(buckets, key=lambda bucket: bucket.level / bucket.capacity)
    return LimitState(limit=int(tightest.capacity), remaining=max(0, math.floor(tightest.level)),
                      reset_s=tightest.full_in())


class RateLimiter:
    """rpm and tpm buckets per key and per team. All methods are synchronous and O(number of scopes)."""

    def __init__(self, *, replicas: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self._replicas = max(1, replicas)
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], Bucket] = {}

    def _bucket(self, scope: Scope, kind: str, limit: int, now: float) -> Bucket:
        capacity = max(1, math.ceil(limit / self._replicas))
        key = (scope[0], scope[1], kind)
        bucket = self._buckets.get(key)
        if bucket is None or bucket.capacity != capacity:
            bucket = Bucket(capacity, now)
            self._buckets[key] = bucket
        else:
            bucket.refill(now)
        return bucket

    def admit(self, limits: Iterable[tuple[Scope, int, int]], tokens: int) -> RateDecision:
        """Take one request and `tokens` from every (scope, rpm, tpm) with a limit, or take nothing."""
        now = self._clock()
        request_buckets: list[Bucket] = []
        token_buckets: list[Bucket] = []
        for scope, rpm, tpm in limits:
            if rpm > 0:
                request_buckets.append(self._bucket(scope, "rpm", rpm, now))
            if tpm > 0:
                token_buckets.append(self._bucket(scope, "tpm", tpm, now))
        wait = max([bucket.wait_for(1) for bucket in request_buckets]
                   + [bucket.wait_for(tokens) for bucket in token_buckets] + [0.0])
        if wait > 0:
            return RateDecision(allowed=False, retry_after_s=wait, requests=_state(request_buckets),
                                tokens=_state(token_buckets))
        for bucket in request_buckets:
            bucket.level -= 1
        for bucket in token_buckets:
            bucket.level -= tokens
        return RateDecision(allowed=True, requests=_state(request_buckets), tokens=_state(token_buckets))

    def correct_tokens(self, scopes: Iterable[Scope], delta: int) -> None:
        """Settle: give back (delta > 0) or charge (delta < 0) tokens once the real usage is known."""
        now = self._clock()
        for scope in scopes:
            bucket = self._buckets.get((scope[0], scope[1], "tpm"))
            if bucket is not None:
                bucket.refill(now)
                bucket.level = min(bucket.capacity, bucket.level + delta)

    def prune(self) -> int:
        """Forget buckets that are full again (they hold no information); returns how many were dropped."""
        now = self._clock()
        idle = []
        for key, bucket in self._buckets.items():
            bucket.refill(now)
            if bucket.level >= bucket.capacity:
                idle.append(key)
        for key in idle:
            del self._buckets[key]
        return len(idle)
