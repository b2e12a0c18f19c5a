"""Token-bucket rate limits: rpm/tpm per scope, all-or-nothing admission, refill, debt, headers."""

from __future__ import annotations

from gateway.limits.windows import RateLimiter, format_reset


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rpm_allows_limit_then_refuses_with_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    scope = [(("key", "k1"), 6, 0)]
    for expected_remaining in (5, 4, 3, 2, 1, 0):
        decision = limiter.admit(scope, tokens=10)
        assert decision.allowed and decision.requests is not None
        assert decision.requests.limit == 6 and decision.requests.remaining == expected_remaining
    refused = limiter.admit(scope, tokens=10)
    assert not refused.allowed
    assert 9.9 < refused.retry_after_s <= 10.0  # 6/min = one every 10 s
    clock.now += 10.0
    assert limiter.admit(scope, tokens=10).allowed


def test_tpm_counts_estimate_and_settle_gives_back_the_difference() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    scope = [(("team", "a"), 0, 1000)]
    assert limiter.admit(scope, tokens=600).allowed
    assert not limiter.admit(scope, tokens=600).allowed
    limiter.correct_tokens([("team", "a")], 600 - 100)  # the first request really used 100 tokens
    decision = limiter.admit(scope, tokens=600)
    assert decision.allowed and decision.tokens is not None and decision.tokens.remaining == 300


def test_a_request_larger_than_the_bucket_is_admitted_when_full_then_debt_blocks() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    scope = [(("key", "k"), 0, 100)]
    assert limiter.admit(scope, tokens=250).allowed  # clamped: never starved
    refused = limiter.admit(scope, tokens=1)
    assert not refused.allowed and refused.retry_after_s > 60  # 150 tokens of debt + 1 at 100/min


def test_all_or_nothing_across_key_and_team() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    key_and_team = [(("key", "k"), 100, 0), (("team", "t"), 2, 0)]
    assert limiter.admit(key_and_team, tokens=1).allowed
    assert limiter.admit(key_and_team, tokens=1).allowed
    refused = limiter.admit(key_and_team, tokens=1)
    assert not refused.allowed
    assert refused.requests is not None and refused.requests.limit == 2  # the tightest bucket is reported
    only_key = limiter.admit([(("key", "k"), 100, 0)], tokens=1)
    assert only_key.requests is not None and only_key.requests.remaining == 97  # refusal took nothing


def test_replicas_divide_the_limit() -> None:
    limiter = RateLimiter(replicas=3, clock=Clock())
    decision = limiter.admit([(("key", "k"), 10, 0)], tokens=0)
    assert decision.requests is not None and decision.requests.limit == 4


def test_prune_drops_full_buckets_only() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.admit([(("key", "a"), 60, 0)], tokens=0)
    limiter.admit([(("key", "b"), 60, 0)], tokens=0)
    assert limiter.prune() == 0
    clock.now += 2
    assert limiter.prune() == 2


def test_format_reset_uses_openai_style() -> None:
    assert format_reset(0.25) == "250ms"
    assert format_reset(6.0) == "6s"
    assert format_reset(90.2) == "1m31s"
