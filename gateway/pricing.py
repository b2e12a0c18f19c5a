"""Request cost in integer nano-USD from genai-prices (resolved once per provider/model) or operator overrides."""

from __future__ import annotations

import threading
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

import msgspec
from genai_prices import Usage, calc_price
from genai_prices.types import TieredPrices

from schemas.settings import PriceOverride

NANO_PER_USD_PER_MTOK = Decimal(1000)  # $1 per million tokens = 1000 nano-USD per token

# OTel gen_ai.provider.name -> genai-prices provider id, where they differ.
_GENAI_PRICES_PROVIDER = {
    "aws.bedrock": "aws", "azure.ai.openai": "azure", "azure.ai.inference": "azure",
    "gcp.gemini": "google", "gcp.vertex_ai": "google", "gcp.gen_ai": "google",
    "mistral_ai": "mistral", "x_ai": "x-ai",
}


class TokenUsage(Protocol):
    """Token counts of one request (RequestLog satisfies it). input includes cache reads and writes; output
    includes reasoning (OTel GenAI convention)."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int


class Rate(msgspec.Struct, kw_only=True, frozen=True):
    """Nano-USD per token: a base rate and (threshold, rate) tiers chosen by the total input tokens."""

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...] = ()

    def per_token(self, total_input_tokens: int) -> Decimal:
        for start, rate in reversed(self.tiers):
            if total_input_tokens > start:
                return rate
        return self.base


class ResolvedPrice(msgspec.Struct, kw_only=True, frozen=True):
    """Per-token rates for each token bucket of one (provider, model)."""

    input: Rate
    cached_input: Rate
    cache_write: Rate
    output: Rate
    reasoning: Rate

    def nano_usd(self, usage: TokenUsage) -> int:
        """Price each bucket once: uncached input, cache reads, cache writes, non-reasoning output, reasoning."""
        total_in = max(0, usage.input_tokens)
        cached = max(0, usage.cached_input_tokens)
        writes = max(0, usage.cache_write_tokens)
        reasoning = max(0, usage.reasoning_tokens)
        uncached = max(0, total_in - cached - writes)
        plain_output = max(0, usage.output_tokens - reasoning)
        cost = (uncached * self.input.per_token(total_in) + cached * self.cached_input.per_token(total_in)
                + writes * self.cache_write.per_token(total_in) + plain_output * self.output.per_token(total_in)
                + reasoning * self.reasoning.per_token(total_in))
        return int(cost.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _rate(price: Decimal | TieredPrices | None) -> Rate | None:
    if price is None:
        return None
    if isinstance(price, TieredPrices):
        return Rate(base=price.base * NANO_PER_USD_PER_MTOK,
                    tiers=tuple((tier.start, tier.price * NANO_PER_USD_PER_MTOK) for tier in price.tiers))
    return Rate(base=Decimal(price) * NANO_PER_USD_PER_MTOK)


def _flat(usd_per_mtok: float | None) -> Rate | None:
    return None if usd_per_mtok is None else Rate(base=Decimal(str(usd_per_mtok)) * NANO_PER_USD_PER_MTOK)


def resolve_override(override: PriceOverride) -> ResolvedPrice:
    """Operator prices as per-token rates."""
    input_rate = _flat(override.input)
    output_rate = _flat(override.output)
    assert input_rate is not None and output_rate is not None
    return ResolvedPrice(
        input=input_rate, output=output_rate,
        cached_input=_flat(override.cached_input) or input_rate,
        cache_write=_flat(override.cache_write) or input_rate,
        reasoning=_flat(override.reasoning) or output_rate,
    )


def resolve_library_price(provider_otel_name: str, model: str) -> ResolvedPrice | None:
    """Look the model up in genai-prices (~0.1-0.6 ms); None when the model is unknown."""
    provider_id = _GENAI_PRICES_PROVIDER.get(provider_otel_name, provider_otel_name) or None
    probe = Usage(input_tokens=1, output_tokens=1)
    try:
        calculation = calc_price(probe, model, provider_id=provider_id)
    except LookupError as error:
        if provider_id is None or "find provider" not in str(error):
            return None
        try:  # provider unknown to the library (e.g. a self-hosted OpenAI-compatible one): match by model
            calculation = calc_price(probe, model)
        except LookupError:
            return None
    prices = calculation.model_price
    input_rate = _rate(getattr(prices, "input_mtok", None))
    output_rate = _rate(getattr(prices, "output_mtok", None))
    if input_rate is None or output_rate is None:
        return None  # priced per request / per second etc.: not a token price we can apply
    return ResolvedPrice(
        input=input_rate, output=output_rate,
        cached_input=_rate(getattr(prices, "cache_read_mtok", None)) or input_rate,
        cache_write=_rate(getattr(prices, "cache_write_mtok", None)) or input_rate,
        reasoning=_rate(getattr(prices, "output_reasoning_mtok", None)) or output_rate,
    )


class PriceBook:
    """Owned by the app: resolves each (provider, model) price once and prices requests from the cache.

    Overrides are keyed "provider/model" or "model" (the first wins). Thread-safe.
    """

    def __init__(self, overrides: dict[str, PriceOverride] | None = None) -> None:
        self._overrides = {key: resolve_override(value) for key, value in (overrides or {}).items()}
        self._resolved: dict[tuple[str, str], ResolvedPrice | None] = {}
        self._lock = threading.Lock()

    def price_for(self, provider_otel_name: str, model: str) -> ResolvedPrice | None:
        """The cached per-token rates, resolving them on first use; None for an unpriced model."""
        key = (provider_otel_name, model)
        try:
            return self._resolved[key]
        except KeyError:
            pass
        price = self._overrides.get(f"{provider_otel_name}/{model}") or self._overrides.get(model)
        if price is None and model:
            try:
                price = resolve_library_price(provider_otel_name, model)
            except Exception:  # a library bug must never break a request
                price = None
        with self._lock:
            self._resolved[key] = price
        return price

    def cost(self, provider_otel_name: str, model: str, usage: TokenUsage) -> tuple[int, bool]:
        """(nano_usd, price_known); an unknown model costs 0 with price_known False. Never raises."""
        price = self.price_for(provider_otel_name, model)
        if price is None:
            return 0, False
        try:
            return price.nano_usd(usage), True
        except Exception:
            return 0, False
