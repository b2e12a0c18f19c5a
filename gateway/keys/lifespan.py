"""Builds, starts and stops the KeyStore and Limits inside the gateway lifespan (one call for the lead)."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import Any

from gateway.keys.store import KeyStore
from gateway.limits.budgets import AlertSink
from gateway.limits.limiter import Limits
from gateway.limits.prices import WorstCaseRates
from gateway.pricing import PriceBook

log = logging.getLogger("portcullis.keys")


async def start_keys_and_limits(stack: AsyncExitStack, services: Any, *,
                                on_alert: AlertSink | None = None) -> None:
    """Set `services.keys` (only when `secret` is configured) and `services.limits`; register their shutdown.

    Needs `services.store` (ClickHouse, migrated), `services.prices` (PriceBook) and `services.providers`.
    Both objects do a first load before returning, then refresh in background tasks.
    """
    settings = services.settings
    secret = services.secrets.require(settings.secret, field="$.secret")
    keys: KeyStore | None = None
    if secret and services.store is not None:
        keys = KeyStore(services.store, secret=secret, settings=settings.keys)
        await keys.start()
        stack.push_async_callback(keys.aclose)
        services.keys = keys
    elif settings.require_keys:
        log.error("require_keys is set but virtual keys are disabled: set `secret` (e.g. env:PORTCULLIS_SECRET)")
    prices = services.prices if services.prices is not None else PriceBook()
    rates = WorstCaseRates.from_settings(prices, settings, services.providers)
    limits = Limits(settings.keys, keys=keys, store=services.store, rates=rates, on_alert=on_alert)
    await limits.start()
    stack.push_async_callback(limits.aclose)
    services.limits = limits
