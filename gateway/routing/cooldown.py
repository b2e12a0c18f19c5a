"""Target health: consecutive failures (or a 429 with Retry-After) cool a target down, then a probe."""

from __future__ import annotations

from collections.abc import Callable, Hashable

MAX_TRACKED_TARGETS = 10_000
MAX_EJECTION_FACTOR = 10


class _Health:
    __slots__ = ("consecutive", "ejections", "last_failure", "open_until", "probing")

    def __init__(self) -> None:
        self.consecutive = 0
        self.ejections = 0
        self.last_failure = 0.0
        self.open_until = 0.0  # 0 = closed (healthy); else cooled down until then, half-open after
        self.probing = False


class Cooldown:
    """Per-target circuit: closed -> open (cooldown_s x ejections, capped) -> half-open (one probe)."""

    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float]) -> None:
        self._failures = max(1, failures)
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._health: dict[Hashable, _Health] = {}

    def available(self, key: Hashable) -> bool:
        """False while cooled down, and while another request is probing the half-open target."""
        health = self._health.get(key)
        if health is None or health.open_until == 0.0:
            return True
        if self._clock() < health.open_until:
            return False
        return not health.probing

    def last_failure(self, key: Hashable) -> float:
        """When the target last failed (0 when never)."""
        health = self._health.get(key)
        return health.last_failure if health is not None else 0.0

    def begin(self, key: Hashable) -> None:
        """An attempt starts; if the target is half-open this attempt is its probe."""
        health = self._health.get(key)
        if health is not None and health.open_until and self._clock() >= health.open_until:
            health.probing = True

    def release(self, key: Hashable) -> None:
        """The attempt ended without a verdict (cancelled): let another request probe."""
        health = self._health.get(key)
        if health is not None:
            health.probing = False

    def success(self, key: Hashable) -> None:
        """The target answered: it is healthy again."""
        self._health.pop(key, None)

    def failure(self, key: Hashable, *, retry_after_s: float | None = None) -> None:
        """A failure that says something about the target's health (5xx, 429, timeout, connection error)."""
        health = self._health.get(key)
        if health is None:
            if len(self._health) >= MAX_TRACKED_TARGETS:
                self._health.pop(next(iter(self._health)))
            health = self._health[key] = _Health()
        now = self._clock()
        was_probe = health.probing
        health.probing = False
        health.consecutive += 1
        health.last_failure = now
        if retry_after_s is not None and retry_after_s > 0:
            health.open_until = max(health.open_until, now + retry_after_s)
        elif was_probe or health.consecutive >= self._failures:
            health.ejections = min(health.ejections + 1, MAX_EJECTION_FACTOR)
            health.open_until = now + self._cooldown_s * health.ejections
