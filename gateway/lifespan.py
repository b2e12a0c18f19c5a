"""Builds and tears down the long-lived objects of one gateway process, in dependency order."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import msgspec

from gateway.errors import ConfigError
from gateway.guarding import GuardrailService
from gateway.keys.lifespan import start_keys_and_limits
from gateway.pricing import PriceBook
from gateway.providers.registry import discover
from gateway.routing.cache import ResponseCache
from gateway.routing.resolve import RouteResolver
from gateway.routing.router import Router
from gateway.services import Services
from gateway.settings import SecretResolver, SettingsError, check_provider_secrets
from gateway.store.reconnecting import ReconnectingStore
from gateway.store.writer import LogWriter
from gateway.telemetry.metrics import build_metrics
from gateway.telemetry.redact import Redactor
from gateway.telemetry.request_spans import RequestTelemetry
from gateway.telemetry.tracing import build_tracing
from gateway.transport import Transport
from schemas.settings import PortcullisSettings, StoreSettings


def check_adapters(settings: PortcullisSettings, known: set[str]) -> None:
    """Every configured provider must name an existing adapter."""
    for name, provider in settings.providers.items():
        if provider.adapter not in known:
            raise SettingsError(
                f"field $.providers.{name}.adapter: unknown adapter {provider.adapter!r}; "
                f"known: {', '.join(sorted(known))}"
            )


def server_secret(settings: PortcullisSettings, secrets: SecretResolver) -> bytes:
    """The server secret (HMAC of keys, PII pseudonyms, UI sessions); a random per-process one when unset."""
    value = secrets.require(settings.secret, field="$.secret")
    return value.encode() if value else os.urandom(32)


def resolved_store_settings(settings: PortcullisSettings, secrets: SecretResolver) -> StoreSettings:
    """The store section with an `env:` DSN resolved (a ClickHouse password then stays out of the file)."""
    dsn = secrets.require(settings.store.dsn, field="$.store.dsn") or settings.store.dsn
    return msgspec.structs.replace(settings.store, dsn=dsn)


def known_secrets(settings: PortcullisSettings, secrets: SecretResolver) -> list[str]:
    """Every credential the operator configured: scrubbed from every sink by the one redactor."""
    values = [secrets(settings.secret), secrets(settings.admin_token)]
    for provider in settings.providers.values():
        values.append(secrets(provider.api_key))
        values.extend(secrets(value) for value in provider.headers.values())
    return [value for value in values if value and len(value) >= 6]


def preflight(settings: PortcullisSettings, environ: Mapping[str, str] | None = None) -> None:
    """Every check that can fail on a bad config, run before serving so the message names the field."""
    secrets = SecretResolver(os.environ if environ is None else environ)
    providers = discover()
    check_adapters(settings, set(providers))
    check_provider_secrets(settings, secrets)
    try:
        RouteResolver(settings, providers, secrets)
    except ConfigError as exc:
        raise SettingsError(exc.message) from None


@asynccontextmanager
async def build_services(
    settings: PortcullisSettings, *, environ: Mapping[str, str] | None = None
) -> AsyncIterator[Services]:
    """Create every service, yield them, and close them in reverse order."""
    env = os.environ if environ is None else environ
    secrets = SecretResolver(env)
    providers = discover()
    check_adapters(settings, set(providers))
    check_provider_secrets(settings, secrets)
    async with AsyncExitStack() as stack:
        server = settings.server
        transport = Transport(
            kind=server.transport, pool_size=server.upstream_pool_size,
            connect_timeout_s=server.upstream_connect_timeout_s,
        )
        stack.push_async_callback(transport.aclose)
        resolver = RouteResolver(settings, providers, secrets)
        router = Router(settings.policy, random.Random())
        services = Services(
            settings=settings, providers=providers, secrets=secrets, transport=transport,
            resolver=resolver, router=router,
        )
        services.cache = ResponseCache(settings.policy.cache_max_bytes)
        guardrails = GuardrailService(settings.guardrails, hash_secret=server_secret(settings, secrets))
        stack.callback(guardrails.close)
        services.guardrails = guardrails
        services.prices = PriceBook(dict(settings.prices))
        store = ReconnectingStore(resolved_store_settings(settings, secrets))
        stack.callback(store.close)
        await anyio.to_thread.run_sync(store.connect_now)
        writer = LogWriter.from_config(store, settings.store)
        writer.start()
        stack.push_async_callback(anyio.to_thread.run_sync, writer.stop)
        services.store, services.writer = store, writer
        redactor = Redactor(known_secrets(settings, secrets))
        services.redactor = redactor
        tracing = build_tracing(settings.telemetry, submit_span_row=writer.submit, environ=env, scrub=redactor.scrub)
        metrics = build_metrics(settings.telemetry, env, writer_stats=writer.stats, tracing_stats=tracing.stats)
        stack.push_async_callback(anyio.to_thread.run_sync, metrics.shutdown)
        stack.push_async_callback(anyio.to_thread.run_sync, tracing.shutdown)
        services.telemetry = RequestTelemetry(tracing, metrics, capture_content=tracing.capture_content,
                                              redactor=redactor)

        def budget_alert(scope: str, owner: str, threshold: float, spent_usd: float, budget_usd: float) -> None:
            metrics.record_budget_alert(team=owner if scope == "team" else scope, level=f"{threshold:.0%}")

        await start_keys_and_limits(stack, services, on_alert=budget_alert)
        services.ready = True
        yield services
