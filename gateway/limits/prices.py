"""Worst-case per-token rates of a requested model, for budget reservations before the route is known."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from schemas.keys import FallbackPrice

MAX_CACHED_MODELS = 4096  # model names come from callers: the cache must stay bounded
NANO_PER_USD_PER_MTOK = 1000.0  # $1 per million tokens = 1000 nano-USD per token


class TokenRates(msgspec.Struct, kw_only=True, frozen=True):
    """Nano-USD per token, the highest the model can be charged at (tiers and cache writes included)."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> int:
        """Worst-case nano-USD for these token counts, rounded up."""
        return int(-(-(input_tokens * self.input + output_tokens * self.output) // 1))


def _highest(rate: Any) -> float:
    values: list[Decimal] = [rate.base, *(tier_rate for _, tier_rate in rate.tiers)]
    return float(max(values))


class WorstCaseRates:
    """Looks a model up in the PriceBook under every provider that offers it and keeps the highest rates.

    Order: the model's own price (max over providers) -> the configured fallback price -> None (unpriced).
    """

    def __init__(self, price_book: Any, providers_by_model: Mapping[str, Iterable[str]],
                 all_providers: Iterable[str], fallback: FallbackPrice | None = None) -> None:
        self._book = price_book
        self._by_model = {model: tuple(names) for model, names in providers_by_model.items()}
        self._all = tuple(dict.fromkeys(all_providers))
        self._fallback = None if fallback is None else TokenRates(
            input=fallback.input * NANO_PER_USD_PER_MTOK, output=fallback.output * NANO_PER_USD_PER_MTOK)
        self._cache: dict[str, TokenRates | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, price_book: Any, settings: Any, adapters: Mapping[str, Any]) -> WorstCaseRates:
        """Build from PortcullisSettings and the adapter registry (provider id -> adapter with `otel_name`)."""
        by_model: dict[str, list[str]] = {}
        names: list[str] = []
        for provider in settings.providers.values():
            adapter = adapters.get(provider.adapter)
            otel_name = getattr(adapter, "otel_name", provider.adapter)
            names.append(otel_name)
            for model in provider.models:
                by_model.setdefault(model, []).append(otel_name)
        return cls(price_book, by_model, names, settings.keys.unpriced_model_price)

    def _lookup(self, model: str) -> TokenRates | None:
        best: TokenRates | None = None
        for provider in self._by_model.get(model) or self._all or ("",):
            price = self._book.price_for(provider, model)
            if price is None:
                continue
            rates = TokenRates(input=max(_highest(price.input), _highest(price.cache_write)),
                               output=max(_highest(price.output), _highest(price.reasoning)))
            if best is None or rates.input + rates.output > best.input + best.output:
                best = rates
        return best

    def for_model(self, model: str) -> TokenRates | None:
        """The rates to reserve with, or None when the model is unpriced and no fallback is configured."""
        try:
            rates = self._cache[model]
        except KeyError:
            rates = self._lookup(model)
            with self._lock:
                if len(self._cache) >= MAX_CACHED_MODELS:
                    self._cache.clear()
                self._cache[model] = rates
        return rates if rates is not None else self._fallback
