"""Budget reservations: worst-case estimate, no overshoot under a parallel burst, settle, alerts, periods."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from gateway.auth import Tenant
from gateway.context import RequestContext
from gateway.errors import BudgetExceeded, PermissionDenied, RateLimited
from gateway.limits.budgets import BudgetLedger, BudgetScope, period_start
from gateway.limits.limiter import Limits, next_period_start
from gateway.limits.prices import WorstCaseRates
from gateway.pricing import PriceBook, PriceOverride
from gateway.providers.base import TokenUsage
from schemas.chat import ChatRequest
from schemas.keys import FallbackPrice, KeySettings, TeamLimits

PRICES = PriceBook({"sim-model": PriceOverride(input=1.0, output=2.0)})  # 1000 / 2000 nano-USD per token


def make_limits(teams: dict[str, TeamLimits], *, fallback: FallbackPrice | None = None,
                alerts: list[tuple[Any, ...]] | None = None) -> Limits:
    settings = KeySettings(teams=teams, unpriced_model_price=fallback)
    rates = WorstCaseRates(PRICES, {"sim-model": ["openai"]}, ["openai"], fallback)
    sink = (lambda *args: alerts.append(args)) if alerts is not None else None
    return Limits(settings, keys=None, store=None, rates=rates, on_alert=sink)


def request(max_tokens: int | None = 100, model: str = "sim-model", text: str = "x" * 400) -> tuple[
        RequestContext, ChatRequest, dict[str, Any]]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    ctx = RequestContext(endpoint="chat.completions")
    ctx.request_body = msgspec.json.encode(body)
    return ctx, msgspec.convert(body, ChatRequest), body


def test_worst_case_is_input_chars_over_4_plus_max_tokens_at_output_price() -> None:
    limits = make_limits({"t": TeamLimits(budget_usd=1.0)})
    ctx, chat, body = request(max_tokens=100)
    asyncio.run(limits.admit(ctx, Tenant(team="t"), chat, body))
    input_tokens = -(-len(ctx.request_body) // 4)
    _, _, reserved, _ = limits.ledger.snapshot(limits.budgeted_scopes()[0][0])
    assert reserved == input_tokens * 1000 + 100 * 2000


def test_parallel_burst_never_overshoots_the_budget() -> None:
    """20 concurrent requests, each worst case 0.0106 USD, against 0.05 USD: at most 4 are admitted."""
    limits = make_limits({"t": TeamLimits(budget_usd=0.05)})
    admitted: list[int] = []
    refused: list[BudgetExceeded] = []

    async def one() -> None:
        ctx, chat, body = request(max_tokens=5000)
        try:
            await limits.admit(ctx, Tenant(team="t"), chat, body)
        except BudgetExceeded as error:
            refused.append(error)
            return
        await asyncio.sleep(0.01)  # the upstream call
        ctx.usage = TokenUsage(input_tokens=110, output_tokens=4000)
        actual = 110 * 1000 + 4000 * 2000
        limits.settle(ctx, actual)
        admitted.append(actual)

    async def burst() -> None:
        await asyncio.gather(*(one() for _ in range(20)))

    asyncio.run(burst())
    scope = limits.budgeted_scopes()[0][0]
    budget, spent, reserved, _ = limits.ledger.snapshot(scope)
    assert reserved == 0 and limits.ledger.open_reservations == 0
    assert spent == sum(admitted) <= budget
    assert len(admitted) == 4 and len(refused) == 16
    assert refused[0].http_status == 429 and refused[0].error_code == "budget_exceeded"
    assert "retry-after" in refused[0].headers


def test_settle_releases_the_reservation_and_books_actual_cost_once() -> None:
    limits = make_limits({"t": TeamLimits(budget_usd=1.0)})
    ctx, chat, body = request()
    asyncio.run(limits.admit(ctx, Tenant(team="t"), chat, body))
    limits.settle(ctx, 12345)
    limits.settle(ctx, 12345)  # idempotent
    _, spent, reserved, _ = limits.ledger.snapshot(limits.budgeted_scopes()[0][0])
    assert (spent, reserved) == (12345, 0)


def test_exhausted_budget_retry_after_points_at_the_next_period() -> None:
    limits = make_limits({"t": TeamLimits(budget_usd=0.0001, budget_period="day")})
    ctx, chat, body = request(max_tokens=100)
    with pytest.raises(BudgetExceeded) as refused:
        asyncio.run(limits.admit(ctx, Tenant(team="t"), chat, body))
    assert int(refused.value.headers["retry-after"]) > 2


def test_unpriced_model_is_refused_when_a_budget_applies_unless_a_fallback_is_set() -> None:
    ctx, chat, body = request(model="mystery-model")
    with pytest.raises(PermissionDenied) as refused:
        asyncio.run(make_limits({"t": TeamLimits(budget_usd=1.0)}).admit(ctx, Tenant(team="t"), chat, body))
    assert refused.value.error_code == "model_unpriced"
    asyncio.run(make_limits({}).admit(ctx, Tenant(team="t"), chat, body))  # no budget: no price needed
    with_fallback = make_limits({"t": TeamLimits(budget_usd=1.0)}, fallback=FallbackPrice(input=10, output=30))
    asyncio.run(with_fallback.admit(ctx, Tenant(team="t"), chat, body))
    _, _, reserved, _ = with_fallback.ledger.snapshot(with_fallback.budgeted_scopes()[0][0])
    assert reserved == -(-len(ctx.request_body) // 4) * 10_000 + 100 * 30_000


def test_missing_max_tokens_uses_the_configured_cap_times_n() -> None:
    limits = make_limits({"t": TeamLimits(budget_usd=10.0)})
    ctx, chat, body = request(max_tokens=None)
    body["n"] = 2
    chat = msgspec.convert(body, ChatRequest)
    asyncio.run(limits.admit(ctx, Tenant(team="t"), chat, body))
    _, _, reserved, _ = limits.ledger.snapshot(limits.budgeted_scopes()[0][0])
    assert reserved == -(-len(ctx.request_body) // 4) * 1000 + 2 * 4096 * 2000


def test_alerts_fire_once_per_threshold() -> None:
    alerts: list[tuple[Any, ...]] = []
    limits = make_limits({"t": TeamLimits(budget_usd=0.01)}, alerts=alerts)
    for cost in (4_000_000, 2_000_000, 1_000_000, 3_000_000):  # 40%, 60%, 70%, 100%
        ctx, chat, body = request(max_tokens=1)
        asyncio.run(limits.admit(ctx, Tenant(team="t"), chat, body))
        limits.settle(ctx, cost)
    assert [(scope, ident, threshold) for scope, ident, threshold, _, _ in alerts] == [
        ("team", "t", 0.5), ("team", "t", 0.8), ("team", "t", 1.0)]
    status = limits.budget_status()[0]
    assert status.alerts_fired == [0.5, 0.8, 1.0] and status.remaining_usd == 0


def test_rate_limit_headers_on_success_and_429() -> None:
    limits = make_limits({"t": TeamLimits(rpm=2, tpm=100_000)})
    for _ in range(2):
        ctx, chat, body = request()
        asyncio.run(limits.admit(ctx, Tenant(team="t"), chat, body))
        assert ctx.extra_headers["x-ratelimit-limit-requests"] == "2"
        assert {"x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
                "x-ratelimit-reset-requests"} <= set(ctx.extra_headers)
    ctx, chat, body = request()
    with pytest.raises(RateLimited) as refused:
        asyncio.run(limits.admit(ctx, Tenant(team="t"), chat, body))
    assert refused.value.headers["x-ratelimit-remaining-requests"] == "0"
    assert int(refused.value.headers["retry-after"]) >= 1


def test_unsettled_reservations_expire() -> None:
    ledger = BudgetLedger()
    scope = BudgetScope(kind="team", id="t", team="t", period="day", start=datetime(2026, 1, 1, tzinfo=UTC))
    assert ledger.reserve("r1", [(scope, 100)], 80, now=10.0) is None
    assert ledger.reserve("r2", [(scope, 100)], 80, now=11.0) is not None
    assert ledger.expire_reservations(older_than=50.0) == 1
    assert ledger.reserve("r3", [(scope, 100)], 80, now=60.0) is None


def test_periods() -> None:
    moment = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # a Thursday
    assert period_start("day", moment) == datetime(2026, 11, 26, tzinfo=UTC)
    assert period_start("week", moment) == datetime(2026, 11, 23, tzinfo=UTC)
    assert period_start("month", moment) == datetime(2026, 11, 1, tzinfo=UTC)
    assert next_period_start("month", datetime(2026, 12, 1, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_period_start("week", datetime(2026, 11, 23, tzinfo=UTC)) == datetime(2026, 11, 30, tzinfo=UTC)
