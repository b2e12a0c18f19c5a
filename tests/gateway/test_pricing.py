"""PriceBook: hand-computed costs from genai-prices' published prices, overrides, unknown models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import pytest
from genai_prices import Usage, calc_price

from gateway.pricing import PriceBook, PriceOverride
from schemas.log import RequestLog


def _usage(input_tokens: int = 0, output_tokens: int = 0, cached: int = 0, cache_write: int = 0,
           reasoning: int = 0) -> RequestLog:
    return RequestLog(request_id="r", trace_id="t", started_at=datetime(2026, 1, 1, tzinfo=UTC), duration_ms=1,
                      endpoint="chat.completions", http_status=200, status="ok", input_tokens=input_tokens,
                      output_tokens=output_tokens, cached_input_tokens=cached, cache_write_tokens=cache_write,
                      reasoning_tokens=reasoning)


@pytest.mark.parametrize(("provider", "model", "usage", "expected_nano"), [
    # gpt-4o: $2.5 input, $1.25 cached input, $10 output per MTok -> 6000*2500 + 4000*1250 + 1000*10000
    ("openai", "gpt-4o", _usage(10_000, 1_000, cached=4_000), 30_000_000),
    # claude-sonnet-4-5: $3 input, $0.3 cache read, $3.75 cache write, $15 output
    # -> 7000*3000 + 2000*300 + 1000*3750 + 2000*15000
    ("anthropic", "claude-sonnet-4-5", _usage(10_000, 2_000, cached=2_000, cache_write=1_000), 55_350_000),
    # above 200k input tokens the $6 / $22.5 tier applies to all tokens
    ("anthropic", "claude-sonnet-4-5", _usage(250_000, 1_000), 1_522_500_000),
    # o3: $2 input, $8 output; reasoning tokens are output tokens priced once at the output rate
    ("openai", "o3", _usage(1_000, 5_000, reasoning=4_000), 42_000_000),
    # OTel provider names map onto genai-prices ids
    ("azure.ai.openai", "gpt-4o", _usage(1_000_000), 2_500_000_000),
])
def test_pricing_known_models(provider: str, model: str, usage: RequestLog, expected_nano: int) -> None:
    book = PriceBook({})
    assert book.cost(provider, model, usage) == (expected_nano, True)
    library = calc_price(Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                               cache_read_tokens=usage.cached_input_tokens,
                               cache_write_tokens=usage.cache_write_tokens),
                         model, provider_id={"azure.ai.openai": "azure"}.get(provider, provider))
    assert Decimal(expected_nano) == library.total_price * Decimal(10**9)


def test_pricing_unknown_model_is_unpriced_never_raises() -> None:
    book = PriceBook({})
    assert book.cost("openai", "no-such-model-xyz", _usage(100, 10)) == (0, False)
    assert book.cost("openai", "", _usage(100, 10)) == (0, False)
    assert book.cost("no-such-provider", "no-such-model-xyz", _usage(100, 10)) == (0, False)


def test_pricing_unknown_provider_falls_back_to_model_match() -> None:
    nano, known = PriceBook({}).cost("simulator", "gpt-4o", _usage(1_000_000))
    assert (nano, known) == (2_500_000_000, True)


def test_pricing_overrides_win_and_price_every_bucket_once() -> None:
    book = PriceBook({
        "vllm/llama-3-70b": PriceOverride(input=1.0, output=2.0, cached_input=0.1, cache_write=1.5,
                                          reasoning=4.0),
        "gpt-4o": PriceOverride(input=5.0, output=20.0),
    })
    usage = _usage(10_000, 3_000, cached=2_000, cache_write=1_000, reasoning=1_000)
    # 7000*1000 + 2000*100 + 1000*1500 + 2000*2000 + 1000*4000
    assert book.cost("vllm", "llama-3-70b", usage) == (16_700_000, True)
    # unset cache/reasoning prices fall back to input/output: 10000*5000 + 3000*20000
    assert book.cost("openai", "gpt-4o", usage) == (110_000_000, True)
    assert book.cost("other", "llama-3-70b", usage) == (0, False)


def test_pricing_resolves_each_model_once() -> None:
    book = PriceBook({})
    first = book.price_for("openai", "gpt-4o")
    assert first is not None and book.price_for("openai", "gpt-4o") is first
    assert book.price_for("openai", "no-such-model-xyz") is None


def test_pricing_override_config_is_strict() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"input": 1, "output": 2, "bogus": 3}, PriceOverride)
