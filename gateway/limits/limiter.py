"""Limits: the pipeline's admit/settle calls that enforce per-key and per-team budgets and rpm/tpm limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
import msgspec

from gateway.auth import Tenant
from gateway.context import RequestContext
from gateway.errors import BudgetExceeded, PermissionDenied, RateLimited
from gateway.limits.budgets import NANO_PER_USD, AlertSink, BudgetLedger, BudgetScope, period_start, run_reconcile_query
from gateway.limits.prices import WorstCaseRates
from gateway.limits.windows import RateDecision, RateLimiter, Scope, format_reset
from schemas.chat import ChatRequest
from schemas.keys import BudgetStatus, KeySettings, VirtualKeyRow

log = logging.getLogger("portcullis.limits")

LEDGER_RETRY_AFTER_S = 2


def next_period_start(period: str, start: datetime) -> datetime:
    """Start of the period after the one beginning at `start`."""
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def estimate_input_tokens(ctx: RequestContext, body: dict[str, Any]) -> int:
    """Characters / 4 of the whole request body (messages, tools, everything the model reads), rounded up."""
    size = len(ctx.request_body) if ctx.request_body else len(msgspec.json.encode(body))
    return -(-size // 4)


def rate_headers(decision: RateDecision) -> dict[str, str]:
    """OpenAI's x-ratelimit-* headers for the tightest request and token buckets."""
    headers: dict[str, str] = {}
    if decision.requests is not None:
        headers["x-ratelimit-limit-requests"] = str(decision.requests.limit)
        headers["x-ratelimit-remaining-requests"] = str(decision.requests.remaining)
        headers["x-ratelimit-reset-requests"] = format_reset(decision.requests.reset_s)
    if decision.tokens is not None:
        headers["x-ratelimit-limit-tokens"] = str(decision.tokens.limit)
        headers["x-ratelimit-remaining-tokens"] = str(decision.tokens.remaining)
        headers["x-ratelimit-reset-tokens"] = format_reset(decision.tokens.reset_s)
    return headers


class _Admitted(msgspec.Struct, kw_only=True):
    """What settle needs to undo or correct: the token estimate and the scopes it was charged to."""

    token_scopes: list[Scope]
    tokens: int


class Limits:
    """Budgets and rate limits. `admit` and `settle` do no I/O; a background task reconciles spend."""

    def __init__(self, settings: KeySettings, *, keys: Any | None, store: Any | None, rates: WorstCaseRates,
                 on_alert: AlertSink | None = None, wall_clock: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._keys = keys
        self._store = store
        self._rates = rates
        self._wall = wall_clock
        self._clock = clock
        self.ledger = BudgetLedger(thresholds=settings.alert_thresholds, on_alert=on_alert)
        self.rates = RateLimiter(replicas=settings.rate_limit_replicas, clock=clock)
        self._admitted: dict[str, _Admitted] = {}
        self._ledger_ok = store is None  # without a store the ledger is local only, and complete
        self.last_reconciled: float | None = None
        self.reconcile_failures = 0
        self._task: asyncio.Task[None] | None = None

    # ---- scopes --------------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    def _key_row(self, key_id: str) -> VirtualKeyRow | None:
        return self._keys.row(key_id) if self._keys is not None and key_id else None

    def _budget_scopes(self, row: VirtualKeyRow | None, team: str, now: datetime) -> list[tuple[BudgetScope, int]]:
        scopes: list[tuple[BudgetScope, int]] = []
        if row is not None and row.budget_usd_nano is not None:
            scopes.append((BudgetScope(kind="key", id=row.key_id, team=row.team, period=row.budget_period,
                                       start=period_start(row.budget_period, now)), row.budget_usd_nano))
        team_limits = self._settings.teams.get(team)
        if team_limits is not None and team_limits.budget_usd is not None:
            scopes.append((BudgetScope(kind="team", id=team, team=team, period=team_limits.budget_period,
                                       start=period_start(team_limits.budget_period, now)),
                           round(team_limits.budget_usd * NANO_PER_USD)))
        return scopes

    def budgeted_scopes(self) -> list[tuple[BudgetScope, int]]:
        """Every budget in its current period: keys (not revoked) and configured teams."""
        now = self._now()
        scopes: list[tuple[BudgetScope, int]] = []
        rows = self._keys.rows() if self._keys is not None else []
        for row in rows:
            if not row.revoked and row.budget_usd_nano is not None:
                scopes.extend(self._budget_scopes(row, "", now))
        for team in self._settings.teams:
            scopes.extend(self._budget_scopes(None, team, now))
        return scopes

    # ---- request path --------------------------------------------------------------------------------------
    async def admit(self, ctx: RequestContext, tenant: Tenant, chat: ChatRequest, body: dict[str, Any]) -> None:
        """Check rate limits and reserve the worst-case cost; raise RateLimited/BudgetExceeded (429) otherwise."""
        self.check(ctx, tenant, chat, body)

    def check(self, ctx: RequestContext, tenant: Tenant, chat: ChatRequest, body: dict[str, Any]) -> None:
        """Synchronous body of `admit` (no I/O, no awaits: the check-then-take below is atomic on the loop)."""
        row = self._key_row(tenant.key_id)
        team_limits = self._settings.teams.get(tenant.team)
        rate_scopes: list[tuple[Scope, int, int]] = []
        if row is not None and (row.rpm or row.tpm):
            rate_scopes.append((("key", row.key_id), row.rpm, row.tpm))
        if team_limits is not None and (team_limits.rpm or team_limits.tpm):
            rate_scopes.append((("team", tenant.team), team_limits.rpm, team_limits.tpm))
        now = self._now()
        budget_scopes = self._budget_scopes(row, tenant.team, now)
        if not rate_scopes and not budget_scopes:
            return
        input_tokens = estimate_input_tokens(ctx, body)
        output_tokens = (chat.max_completion_tokens or chat.max_tokens or self._settings.default_max_output_tokens) \
            * max(1, chat.n or 1)
        cost = 0
        if budget_scopes:
            cost = self._worst_case_cost(chat.model, input_tokens, output_tokens)
        tokens = input_tokens + output_tokens
        decision = self.rates.admit(rate_scopes, tokens) if rate_scopes else None
        headers = rate_headers(decision) if decision is not None else {}
        if decision is not None and not decision.allowed:
            wait = max(1, math.ceil(decision.retry_after_s))
            raise RateLimited(f"rate limit reached; retry in {wait}s", code="rate_limit_exceeded",
                              headers={**headers, "retry-after": str(wait)})
        if budget_scopes:
            self._reserve(ctx, budget_scopes, cost, now, rate_scopes, tokens, headers)
        if decision is not None:
            self._admitted[ctx.request_id] = _Admitted(token_scopes=[s for s, _, tpm in rate_scopes if tpm],
                                                       tokens=tokens)
        ctx.extra_headers.update(headers)

    def _worst_case_cost(self, model: str, input_tokens: int, output_tokens: int) -> int:
        rates = self._rates.for_model(model)
        if rates is None:
            raise PermissionDenied(
                f"model {model!r} has no known price, so a budget cannot be enforced for it; "
                "ask the operator to set a price override or keys.unpriced_model_price",
                param="model", code="model_unpriced")
        return rates.cost(input_tokens, output_tokens)

    def _reserve(self, ctx: RequestContext, scopes: list[tuple[BudgetScope, int]], cost: int, now: datetime,
                 rate_scopes: list[tuple[Scope, int, int]], tokens: int, headers: dict[str, str]) -> None:
        if not self._ledger_ok:
            self._undo_rate(rate_scopes, tokens)
            raise BudgetExceeded("budget ledger not loaded yet (ClickHouse unreachable?); retry shortly",
                                 headers={**headers, "retry-after": str(LEDGER_RETRY_AFTER_S)})
        shortfall = self.ledger.reserve(ctx.request_id, scopes, cost, self._clock())
        if shortfall is None:
            return
        self._undo_rate(rate_scopes, tokens)
        scope = shortfall.scope
        if shortfall.spent + cost > shortfall.budget:  # cannot fit even once in-flight requests settle
            wait = max(1, math.ceil((next_period_start(scope.period, scope.start) - now).total_seconds()))
        else:
            wait = LEDGER_RETRY_AFTER_S
        left = max(0, shortfall.budget - shortfall.spent - shortfall.reserved) / NANO_PER_USD
        raise BudgetExceeded(
            f"{scope.kind} budget exceeded: this request may cost up to {cost / NANO_PER_USD:.6f} USD and "
            f"{left:.6f} USD of {shortfall.budget / NANO_PER_USD:.6f} USD is left this {scope.period}",
            headers={**headers, "retry-after": str(wait)})

    def _undo_rate(self, rate_scopes: list[tuple[Scope, int, int]], tokens: int) -> None:
        """A request refused for its budget gives back the tokens it took (the request slot stays used)."""
        self.rates.correct_tokens([scope for scope, _, tpm in rate_scopes if tpm], tokens)

    def settle(self, ctx: RequestContext, actual_cost_nano: int) -> None:
        """After the answer: release the reservation, book the actual cost, correct the token estimate.

        Idempotent; safe for requests that were never admitted (no-op)."""
        admitted = self._admitted.pop(ctx.request_id, None)
        if admitted is not None and admitted.token_scopes:
            usage = ctx.usage
            actual = (usage.input_tokens + usage.output_tokens) if usage is not None else 0
            self.rates.correct_tokens(admitted.token_scopes, admitted.tokens - actual)
        reaches_store = self._store is not None and ctx.log_policy != "off"
        self.ledger.settle(ctx.request_id, max(0, int(actual_cost_nano)), reaches_store=reaches_store)

    # ---- reconcile -----------------------------------------------------------------------------------------
    async def reconcile(self) -> bool:
        """Refresh every budget's spend from ClickHouse (one query per kind and period); False on failure."""
        scopes = self.budgeted_scopes()
        self.ledger.forget_before({scope for scope, _ in scopes})
        if self._store is None:
            return True
        try:
            for query in self.ledger.plan(scopes):
                result = await anyio.to_thread.run_sync(run_reconcile_query, self._store, query)
                self.ledger.apply(query, result)
        except Exception as error:
            self.reconcile_failures += 1
            log.warning("budget reconcile failed (%s); enforcing with the last known spend plus local spend",
                        type(error).__name__)
            return False
        self._ledger_ok = True
        self.last_reconciled = self._wall()
        return True

    def housekeeping(self) -> None:
        """Release reservations older than the TTL and forget idle rate buckets."""
        expired_before = self._clock() - self._settings.reservation_ttl_s
        self.ledger.expire_reservations(expired_before)
        self.rates.prune()

    async def start(self) -> None:
        """First reconcile (budgeted requests are refused until one succeeds), then the background task."""
        await self.reconcile()
        self._task = asyncio.create_task(self._loop(), name="portcullis-budget-reconcile")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.ledger_interval_s)
            await self.reconcile()
            self.housekeeping()

    async def aclose(self) -> None:
        """Stop the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # ---- status --------------------------------------------------------------------------------------------
    def budget_status(self, team: str | None = None) -> list[BudgetStatus]:
        """Spend against every current budget (or one team's), from memory, for GET /admin/budgets."""
        statuses: list[BudgetStatus] = []
        for scope, budget in self.budgeted_scopes():
            if team is not None and scope.team != team:
                continue
            _, spent, reserved, fired = self.ledger.snapshot(scope)
            statuses.append(BudgetStatus(
                scope=scope.kind, id=scope.id, team=scope.team, period=scope.period, period_start=scope.start,
                budget_usd=budget / NANO_PER_USD, spent_usd=spent / NANO_PER_USD,
                reserved_usd=reserved / NANO_PER_USD,
                remaining_usd=max(0, budget - spent - reserved) / NANO_PER_USD, alerts_fired=fired,
            ))
        return statuses
