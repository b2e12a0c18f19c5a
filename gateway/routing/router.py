"""The router: walks a plan's target tree, retrying, falling back, balancing within deadline and budget."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from gateway.errors import AllTargetsFailed, ClientCancelled, ConfigError, GatewayError, ProviderTimeout
from gateway.routing.budget import RetryBudget
from gateway.routing.cooldown import Cooldown
from gateway.routing.plan import Group, Leaf, Node, RoutePlan
from gateway.routing.retry import (
    attempt_status,
    error_kind,
    falls_back,
    hurts_health,
    retriable,
    retry_wait_s,
)
from gateway.routing.strategy import usable, weighted_pick
from schemas.log import AttemptLog
from schemas.settings import PolicySettings

T = TypeVar("T")
Attempt = Callable[[Leaf, dict[str, Any], float], Awaitable[T]]
OnAttempt = Callable[[AttemptLog], None]
MAX_ERROR_MESSAGE = 500


class _TargetFailed(Exception):
    """A subtree gave up; carries the error that decides whether the parent falls back."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class _Run:
    """Per-request state of one execute call."""

    __slots__ = ("attempt", "attempts", "body", "deadline", "metadata", "on_attempt")

    def __init__(
        self,
        body: dict[str, Any],
        metadata: dict[str, Any],
        attempt: Any,
        deadline: float | None,
        on_attempt: OnAttempt | None,
    ) -> None:
        self.body = body
        self.metadata = metadata
        self.attempt = attempt
        self.deadline = deadline
        self.on_attempt = on_attempt
        self.attempts = 0


class Router:
    """Long-lived (one per app): owns the retry budget and target cooldowns shared by all requests."""

    def __init__(
        self,
        policy: PolicySettings,
        rng: random.Random,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._policy = policy
        self._rng = rng
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self.budget = RetryBudget(policy.retry_budget_ratio, policy.retry_budget_min, clock)
        self.cooldown = Cooldown(policy.cooldown_failures, policy.cooldown_s, clock)

    async def execute(
        self,
        plan: RoutePlan,
        body: dict[str, Any],
        metadata: dict[str, Any],
        attempt: Attempt[T],
        *,
        deadline: float | None = None,
        on_attempt: OnAttempt | None = None,
    ) -> tuple[T, Leaf]:
        """Run the plan; `deadline` is in this router's clock (time.monotonic by default)."""
        self.budget.record_request()
        run = _Run(body, metadata, attempt, deadline, on_attempt)
        try:
            return await self._node(plan.root, run)
        except _TargetFailed as failed:
            raise AllTargetsFailed(failed.error, run.attempts) from None

    async def _node(self, node: Node, run: _Run) -> tuple[Any, Leaf]:
        if isinstance(node, Leaf):
            return await self._leaf(node, run)
        return await self._group(node, run)

    async def _group(self, group: Group, run: _Run) -> tuple[Any, Leaf]:
        if group.mode == "single":
            return await self._node(group.children[0], run)
        if group.mode == "conditional":
            index = group.pick_conditional(run.metadata, run.body)
            if index is None:
                where = f"{group.path}.strategy.default" if group.path else "strategy.default"
                raise ConfigError(f"no condition matched and the config has no default target ({where})", param=where)
            return await self._node(group.children[index], run)
        if group.mode == "loadbalance":
            weighted = [child for child in group.children if child.weight > 0]
            return await self._node(weighted_pick(usable(weighted, self.cooldown), self._rng), run)
        candidates = usable(group.children, self.cooldown)
        for position, child in enumerate(candidates):
            try:
                return await self._node(child, run)
            except _TargetFailed as failed:
                last = position == len(candidates) - 1
                if last or not falls_back(failed.error, group) or self._past_deadline(run):
                    raise
        raise AssertionError("unreachable: a fallback group has at least one candidate")

    def _past_deadline(self, run: _Run) -> bool:
        return run.deadline is not None and self._clock() >= run.deadline

    async def _leaf(self, leaf: Leaf, run: _Run) -> tuple[Any, Leaf]:
        body = leaf.apply_overrides(run.body)
        key = leaf.health_key
        retry_index = 0
        last: GatewayError | None = None
        while True:
            now = self._clock()
            if run.deadline is not None and now >= run.deadline:
                raise _TargetFailed(last or ProviderTimeout("request deadline exceeded", provider=leaf.target.name))
            timeout_s = leaf.timeout_s if run.deadline is None else min(leaf.timeout_s, run.deadline - now)
            self.cooldown.begin(key)
            started, started_at = now, self._wall_clock()
            try:
                result = await run.attempt(leaf, body, timeout_s)
            except (asyncio.CancelledError, ClientCancelled):
                self.cooldown.release(key)
                self._record(run, leaf, started, started_at, retry_index, 0, "cancelled", "client cancelled")
                raise
            except GatewayError as error:
                last = error
                self._record(
                    run,
                    leaf,
                    started,
                    started_at,
                    retry_index,
                    attempt_status(error),
                    error_kind(error),
                    error.message,
                )
                if hurts_health(error):
                    asked = getattr(error, "retry_after_s", None) if error.http_status == 429 else None
                    capped = min(asked, self._policy.max_retry_after_s) if asked is not None else None
                    self.cooldown.failure(key, retry_after_s=capped)
                else:
                    self.cooldown.release(key)
                if not retriable(error, leaf.retry, retry_index):
                    raise _TargetFailed(error) from None
                wait = retry_wait_s(
                    error,
                    leaf.retry,
                    retry_index,
                    self._rng,
                    max_retry_after_s=self._policy.max_retry_after_s,
                )
                if wait is None or (run.deadline is not None and self._clock() + wait >= run.deadline):
                    raise _TargetFailed(error) from None
                if not self.budget.try_acquire_retry():
                    raise _TargetFailed(error) from None
                await self._sleep(wait)
                retry_index += 1
                continue
            except BaseException:
                self.cooldown.release(key)
                raise
            self.cooldown.success(key)
            self._record(run, leaf, started, started_at, retry_index, 200, "", "")
            return result, leaf

    def _record(
        self,
        run: _Run,
        leaf: Leaf,
        started: float,
        started_at: datetime,
        retry_index: int,
        status: int,
        error_type: str,
        message: str,
    ) -> None:
        run.attempts += 1
        if run.on_attempt is None:
            return
        run.on_attempt(
            AttemptLog(
                target_path=leaf.path,
                provider=leaf.target.name,
                model=leaf.target.model,
                status=status,
                error_type=error_type,
                error_message=message[:MAX_ERROR_MESSAGE],
                started_at=started_at,
                latency_ms=(self._clock() - started) * 1000.0,
                retry_index=retry_index,
            )
        )
