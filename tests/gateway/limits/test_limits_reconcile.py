"""Ledger reconciliation against real chDB: other replicas' spend, local pending spend, no double counting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from gateway.auth import Tenant
from gateway.context import RequestContext
from gateway.errors import BudgetExceeded
from gateway.keys.store import KeyStore
from gateway.limits.limiter import Limits
from gateway.limits.prices import WorstCaseRates
from gateway.pricing import PriceBook, PriceOverride
from gateway.store.client import Store, StoreConfig
from schemas.chat import ChatRequest
from schemas.keys import KeyCreateRequest, KeySettings, TeamLimits

PRICES = PriceBook({"sim-model": PriceOverride(input=1.0, output=2.0)})
RATES = WorstCaseRates(PRICES, {"sim-model": ["openai"]}, ["openai"])
USD = 1_000_000_000


def insert_request(store: Store, request_id: str, key_id: str, team: str, cost: int,
                   started_at: datetime | None = None) -> None:
    store.insert("requests", [[request_id, started_at or datetime.now(UTC), key_id, team, cost, True]],
                 ["request_id", "started_at", "key_id", "team", "cost_nano_usd", "price_known"])


def chat_request() -> tuple[RequestContext, ChatRequest, dict[str, Any]]:
    body: dict[str, Any] = {"model": "sim-model", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    ctx = RequestContext(endpoint="chat.completions")
    ctx.request_body = msgspec.json.encode(body)
    return ctx, msgspec.convert(body, ChatRequest), body


def test_reconcile_counts_every_replica_once(limits_store: Store) -> None:
    settings = KeySettings(teams={"alpha": TeamLimits(budget_usd=1.0, budget_period="month")})
    keys = KeyStore(limits_store, secret="s", settings=settings)
    limits = Limits(settings, keys=keys, store=limits_store, rates=RATES)

    async def scenario() -> None:
        await keys.refresh()
        _, row = await keys.create(KeyCreateRequest(team="alpha", budget_usd=0.05, budget_period="day"))
        key = keys.row(row.key_id)
        assert key is not None
        tenant = Tenant(key_id=row.key_id, team="alpha")
        assert await limits.reconcile()

        insert_request(limits_store, "other-1", row.key_id, "alpha", 10_000_000)  # another replica's spend
        insert_request(limits_store, "old-1", row.key_id, "alpha", 40_000_000,  # last month: not this period
                       started_at=datetime.now(UTC) - timedelta(days=40))
        ctx, chat, body = chat_request()
        await limits.admit(ctx, tenant, chat, body)
        limits.settle(ctx, 5_000_000)  # settled here; its row is not flushed yet
        off_ctx, chat, body = chat_request()
        off_ctx.log_policy = "off"  # this row will never reach ClickHouse
        await limits.admit(off_ctx, tenant, chat, body)
        limits.settle(off_ctx, 1_000_000)

        assert await limits.reconcile()
        spent = {status.scope: status.spent_usd for status in limits.budget_status()}
        assert spent == {"key": 0.016, "team": pytest.approx(0.016)}

        insert_request(limits_store, ctx.request_id, row.key_id, "alpha", 5_000_000)  # the writer flushed it
        insert_request(limits_store, ctx.request_id, row.key_id, "alpha", 5_000_000)  # and replayed it
        assert await limits.reconcile()
        statuses = limits.budget_status()
        assert {status.scope: status.spent_usd for status in statuses} == {"key": 0.016, "team": 0.016}
        assert all(status.reserved_usd == 0 for status in statuses)
        assert limits.budget_status("beta") == []

    asyncio.run(scenario())


def test_spend_from_other_replicas_blocks_admission(limits_store: Store) -> None:
    settings = KeySettings(teams={"alpha": TeamLimits(budget_usd=0.02, budget_period="day")})
    limits = Limits(settings, keys=None, store=limits_store, rates=RATES)

    async def scenario() -> None:
        assert await limits.reconcile()
        ctx, chat, body = chat_request()
        await limits.admit(ctx, Tenant(team="alpha"), chat, body)
        limits.settle(ctx, 0)
        insert_request(limits_store, "other-2", "", "alpha", 19_990_000)
        assert await limits.reconcile()
        ctx, chat, body = chat_request()
        with pytest.raises(BudgetExceeded):
            await limits.admit(ctx, Tenant(team="alpha"), chat, body)

    asyncio.run(scenario())


def test_budgets_fail_closed_until_the_ledger_loads(chdb_dsn: str, database_name: str) -> None:
    empty = Store.connect(StoreConfig(dsn=chdb_dsn, database=database_name))  # no `requests` table
    settings = KeySettings(teams={"alpha": TeamLimits(budget_usd=10.0), "beta": TeamLimits(rpm=100)})
    limits = Limits(settings, keys=None, store=empty, rates=RATES)
    try:
        async def scenario() -> None:
            assert not await limits.reconcile()
            ctx, chat, body = chat_request()
            with pytest.raises(BudgetExceeded) as refused:
                await limits.admit(ctx, Tenant(team="alpha"), chat, body)
            assert "ledger" in refused.value.message
            await limits.admit(ctx, Tenant(team="beta"), chat, body)  # no budget: served
            empty.migrate()
            assert await limits.reconcile()
            ctx, chat, body = chat_request()
            await limits.admit(ctx, Tenant(team="alpha"), chat, body)

        asyncio.run(scenario())
        assert limits.reconcile_failures == 1
    finally:
        empty.command(f"DROP DATABASE IF EXISTS {database_name}")
