"""The router over scripted upstreams: strategies, retries, Retry-After, deadline, balance, cooldown, budget, cancel."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from typing import Any

import pytest
from routing_testkit import FakeClock, ScriptedUpstream, collector, make_resolver
from test_routing_config import EXAMPLE_A, EXAMPLE_B

from gateway.errors import AllTargetsFailed, ConfigError, ProviderError, ProviderTimeout, ProviderUnavailable
from gateway.routing.plan import RoutePlan
from gateway.routing.router import Router
from schemas.settings import PolicySettings

BODY: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def _plan(config: dict[str, Any] | str, *, portkey: bool = False, model: str = "gpt-4o") -> RoutePlan:
    text = config if isinstance(config, str) else json.dumps(config)
    return make_resolver().resolve(model=model, header_value=text, portkey_header=portkey)


def _router(clock: FakeClock, seed: int = 7, **policy: Any) -> Router:
    return Router(PolicySettings(**policy), random.Random(seed), clock, clock.sleep)


def _run(
    router: Router,
    plan: RoutePlan,
    upstream: ScriptedUpstream,
    *,
    deadline: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[Any, Any, list[Any]]:
    logs, on_attempt = collector()
    result, leaf = asyncio.run(
        router.execute(plan, BODY, metadata or {}, upstream, deadline=deadline, on_attempt=on_attempt)
    )
    return result, leaf, logs


def _fail(router: Router, plan: RoutePlan, upstream: ScriptedUpstream, **kwargs: Any) -> AllTargetsFailed:
    with pytest.raises(AllTargetsFailed) as caught:
        _run(router, plan, upstream, **kwargs)
    return caught.value


def err(status: int, retry_after: float | None = None) -> ProviderError:
    return ProviderError(f"upstream said {status}", provider="x", status=status, retry_after_s=retry_after)


FALLBACK = {"strategy": {"mode": "fallback"}, "targets": [{"provider": "openai"}, {"provider": "groq"}]}


def test_routing_single_success_records_attempt() -> None:
    clock = FakeClock()
    upstream = ScriptedUpstream({}, cost_s=0.25, clock=clock)
    result, leaf, logs = _run(_router(clock), _plan({"provider": "openai", "override_params": {"seed": 3}}), upstream)
    assert result == "ok:openai" and leaf.target.name == "openai"
    assert upstream.bodies[0]["seed"] == 3 and upstream.bodies[0]["model"] == "gpt-4o"
    (log,) = logs
    assert (log.status, log.error_type, log.provider, log.model, log.retry_index) == (200, "", "openai", "gpt-4o", 0)
    assert log.latency_ms == pytest.approx(250.0)


def test_routing_fallback_moves_on_after_failure() -> None:
    clock = FakeClock()
    upstream = ScriptedUpstream({"openai": [err(503)]})
    result, leaf, logs = _run(_router(clock), _plan(FALLBACK), upstream)
    assert result == "ok:groq" and leaf.path == "targets[1]"
    assert [(log.target_path, log.status) for log in logs] == [("targets[0]", 503), ("targets[1]", 200)]


def test_routing_fallback_only_on_listed_codes() -> None:
    config = {**FALLBACK, "strategy": {"mode": "fallback", "on_status_codes": [429, 503]}}
    clock = FakeClock()
    upstream = ScriptedUpstream({"openai": [err(400)]})
    failed = _fail(_router(clock), _plan(config), upstream)
    assert failed.http_status == 400 and failed.attempts == 1 and [c[0] for c in upstream.calls] == ["openai"]
    for error in (ProviderTimeout("slow", provider="openai"), ProviderUnavailable("refused", provider="openai")):
        result, _, logs = _run(_router(FakeClock()), _plan(config), ScriptedUpstream({"openai": [error]}))
        assert result == "ok:groq" and logs[0].status == 0 and logs[0].error_type in ("timeout", "connect_error")


def test_routing_fallback_without_list_moves_on_any_failure() -> None:
    result, _, _ = _run(_router(FakeClock()), _plan(FALLBACK), ScriptedUpstream({"openai": [err(400)]}))
    assert result == "ok:groq"


def test_routing_all_targets_failed_carries_last_error() -> None:
    upstream = ScriptedUpstream({"openai": [err(503)], "groq": [err(502)]})
    failed = _fail(_router(FakeClock()), _plan(FALLBACK), upstream)
    assert failed.attempts == 2 and failed.http_status == 502 and "502" in failed.message


def test_routing_retries_with_full_jitter_backoff() -> None:
    clock = FakeClock()
    upstream = ScriptedUpstream({"openai": [err(503), err(500), "ok"]})
    result, _, logs = _run(_router(clock), _plan({"provider": "openai", "retry": {"attempts": 3}}), upstream)
    assert result == "ok:openai" and [log.retry_index for log in logs] == [0, 1, 2]
    assert len(clock.sleeps) == 2 and 0 <= clock.sleeps[0] <= 0.5 and 0 <= clock.sleeps[1] <= 1.0


def test_routing_no_retry_on_unlisted_status() -> None:
    upstream = ScriptedUpstream({"openai": [err(400), "ok"]})
    failed = _fail(_router(FakeClock()), _plan({"provider": "openai", "retry": {"attempts": 3}}), upstream)
    assert failed.attempts == 1 and failed.http_status == 400


def test_routing_retry_after_honoured_and_capped() -> None:
    clock = FakeClock()
    upstream = ScriptedUpstream({"openai": [err(429, retry_after=2.0), "ok"]})
    result, _, _ = _run(_router(clock), _plan({"provider": "openai", "retry": {"attempts": 2}}), upstream)
    assert result == "ok:openai" and clock.sleeps == [2.0]
    # above policy.max_retry_after_s: no sleep, fall back at once, target cooled down
    clock = FakeClock()
    router = _router(clock, max_retry_after_s=60)
    config = {**FALLBACK, "retry": {"attempts": 2}}
    upstream = ScriptedUpstream({"openai": [err(429, retry_after=120.0), "ok"]})
    result, _, _ = _run(router, _plan(config), upstream)
    assert result == "ok:groq" and clock.sleeps == []
    assert not router.cooldown.available(("openai", "gpt-4o", ""))
    clock.now += 61
    assert router.cooldown.available(("openai", "gpt-4o", ""))


def test_routing_retry_after_ignored_when_disabled() -> None:
    clock = FakeClock()
    config = {"provider": "openai", "retry": {"attempts": 1, "use_retry_after_header": False}}
    upstream = ScriptedUpstream({"openai": [err(429, retry_after=30.0), "ok"]})
    _run(_router(clock), _plan(config), upstream)
    assert len(clock.sleeps) == 1 and clock.sleeps[0] <= 0.5


def test_routing_deadline_bounds_retries_and_timeouts() -> None:
    clock = FakeClock()
    config = {**FALLBACK, "retry": {"attempts": 3}, "request_timeout": 60_000}
    upstream = ScriptedUpstream({"openai": [err(429, retry_after=5.0), "ok"]})
    result, _, _ = _run(_router(clock), _plan(config), upstream, deadline=clock.now + 4.0)
    assert result == "ok:groq" and clock.sleeps == []  # the wait would pass the deadline: fall back at once
    assert [timeout for _, _, timeout in upstream.calls] == [4.0, 4.0]  # per-attempt timeout cut to the deadline
    # the deadline passes during the first attempt: no fallback, the real error is reported
    clock = FakeClock()
    upstream = ScriptedUpstream({"openai": [err(503)]}, cost_s=5.0, clock=clock)
    failed = _fail(_router(clock), _plan(config), upstream, deadline=clock.now + 4.0)
    assert failed.http_status == 503 and failed.attempts == 1


def test_routing_deadline_already_passed() -> None:
    clock = FakeClock()
    failed = _fail(_router(clock), _plan({"provider": "openai"}), ScriptedUpstream({}), deadline=clock.now)
    assert failed.attempts == 0 and failed.http_status == 504


def test_routing_loadbalance_distribution_chi_square() -> None:
    config = {
        "strategy": {"mode": "loadbalance"},
        "targets": [
            {"provider": "openai", "weight": 5},
            {"provider": "groq", "weight": 3},
            {"provider": "anthropic", "weight": 2},
            {"provider": "byok", "weight": 0},
        ],
    }
    plan = _plan(config)
    router = _router(FakeClock(), seed=20260525)
    counts: Counter[str] = Counter()
    upstream = ScriptedUpstream({})
    for _ in range(2000):
        _, leaf, _ = _run(router, plan, upstream)
        counts[leaf.target.name] += 1
    expected = {"openai": 1000, "groq": 600, "anthropic-main": 400}
    chi_square = sum((counts[name] - e) ** 2 / e for name, e in expected.items())
    assert counts["byok"] == 0
    assert chi_square < 13.82, (counts, chi_square)  # df=2, p=0.001


def test_routing_conditional_and_missing_default() -> None:
    plan = _plan(EXAMPLE_B, portkey=True)
    router = _router(FakeClock())
    _, leaf, _ = _run(router, plan, ScriptedUpstream({}), metadata={"plan": "paid"})
    assert leaf.target.model == "gpt-4o"
    _, leaf, _ = _run(router, plan, ScriptedUpstream({}), metadata={"plan": "free"})
    assert leaf.target.model == "llama-3.1-8b-instant"
    no_default = {
        "strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.x": "1"}, "then": "a"}]},
        "targets": [{"name": "a", "provider": "openai"}],
    }
    with pytest.raises(ConfigError, match="no condition matched"):
        _run(router, _plan(no_default), ScriptedUpstream({}), metadata={})


def test_routing_example_a_falls_back_from_balanced_pair() -> None:
    clock = FakeClock()
    upstream = ScriptedUpstream({"openai": [err(500)], "azure-openai": [err(500)]})
    result, leaf, logs = _run(_router(clock), _plan(EXAMPLE_A, portkey=True), upstream)
    assert result == "ok:anthropic-main" and leaf.path == "targets[1]"
    assert len(logs) == 5 and [log.retry_index for log in logs[:4]] == [0, 1, 2, 3]  # 3 retries, then fallback


def test_routing_cooldown_and_half_open_probe() -> None:
    clock = FakeClock()
    router = _router(clock, cooldown_failures=3, cooldown_s=30)
    plan = _plan(FALLBACK)
    upstream = ScriptedUpstream({"openai": [err(503)]})
    for _ in range(3):
        _run(router, plan, upstream)
    assert [c[0] for c in upstream.calls] == ["openai", "groq"] * 3
    upstream.calls.clear()
    _run(router, plan, upstream)
    assert [c[0] for c in upstream.calls] == ["groq"]  # skipped while cooled down
    clock.now += 31
    upstream.calls.clear()
    _run(router, plan, upstream)  # half-open probe fails: cooled down for 2 x 30 s
    assert [c[0] for c in upstream.calls] == ["openai", "groq"]
    clock.now += 31
    upstream.calls.clear()
    _run(router, plan, upstream)
    assert [c[0] for c in upstream.calls] == ["groq"]
    clock.now += 30
    upstream.script["openai"] = ["ok"]
    upstream.calls.clear()
    _run(router, plan, upstream)  # probe succeeds: healthy again
    _run(router, plan, upstream)
    assert [c[0] for c in upstream.calls] == ["openai", "openai"]


def test_routing_never_skips_every_target() -> None:
    clock = FakeClock()
    router = _router(clock, cooldown_failures=1, cooldown_s=30)
    plan = _plan(FALLBACK)
    upstream = ScriptedUpstream({"openai": [err(503)], "groq": [err(503)]})
    _fail(router, plan, upstream)
    clock.now += 1
    upstream.calls.clear()
    failed = _fail(router, plan, upstream)  # both cooled down: the least recently failed one is still tried
    assert failed.attempts == 1 and [c[0] for c in upstream.calls] == ["openai"]


def test_routing_retry_budget_stops_storms() -> None:
    clock = FakeClock()
    router = _router(clock, retry_budget_ratio=0.0, retry_budget_min=2, cooldown_failures=1000)
    plan = _plan({"provider": "openai", "retry": {"attempts": 5}})
    upstream = ScriptedUpstream({"openai": [err(503)]})
    attempts = [_fail(router, plan, upstream).attempts for _ in range(3)]
    assert attempts == [3, 1, 1]  # two retries in the window, then none
    clock.now += 11  # the window slides on
    assert _fail(router, plan, upstream).attempts == 3


def test_routing_retry_budget_grows_with_traffic() -> None:
    clock = FakeClock()
    router = _router(clock, retry_budget_ratio=0.5, retry_budget_min=0)
    for _ in range(10):
        router.budget.record_request()
    assert sum(router.budget.try_acquire_retry() for _ in range(20)) == 5


def test_routing_cancellation_propagates_without_retry() -> None:
    clock = FakeClock()
    router = _router(clock)
    upstream = ScriptedUpstream({"openai": [asyncio.CancelledError()]})
    logs, on_attempt = collector()
    plan = _plan({**FALLBACK, "retry": {"attempts": 3}})
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(router.execute(plan, BODY, {}, upstream, on_attempt=on_attempt))
    assert len(upstream.calls) == 1 and [log.error_type for log in logs] == ["cancelled"]
