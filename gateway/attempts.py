"""Upstream attempts for one request: what the router calls for each target, streaming and not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from gateway import guarding
from gateway.context import RequestContext
from gateway.errors import AuthenticationError, GatewayError, ProviderTimeout
from gateway.providers.base import ChatResult, Provider, ProviderTarget, StreamDecoder, UpstreamRequest
from gateway.routing.cache import CacheLookup, completion_to_sse_chunks
from gateway.services import Services
from gateway.transport import UpstreamResponse
from schemas.chat import ChatRequest, JsonObject


class OpenedStream:
    """An upstream stream that answered 200 (or a cache hit to replay), not yet relayed."""

    __slots__ = ("cached", "decoder", "leaf", "provider", "response", "span")

    def __init__(
        self,
        *,
        response: UpstreamResponse | None,
        decoder: StreamDecoder | None,
        leaf: Any,
        provider: Provider | None,
        span: Any,
        cached: list[bytes] | None = None,
    ) -> None:
        self.response = response
        self.decoder = decoder
        self.leaf = leaf
        self.provider = provider
        self.span = span
        self.cached = cached


def deadline_s(services: Services) -> float:
    """The whole request's deadline (each attempt also has its target's own timeout)."""
    return time.monotonic() + services.settings.server.default_request_timeout_s


def _served(ctx: RequestContext, leaf: Any) -> None:
    ctx.provider = leaf.target.name
    ctx.target_path = leaf.path
    ctx.model_served = leaf.target.model


def upstream_target(ctx: RequestContext, leaf: Any) -> ProviderTarget:
    """The leaf's target, with the caller's own key for providers in pass-through mode."""
    if not leaf.passthrough_auth or leaf.target.api_key:
        return leaf.target
    if not ctx.provider_key:
        raise AuthenticationError(f"provider {leaf.target.name} uses your own key: send it in "
                                  "x-portcullis-provider-key", code="provider_key_required")
    return msgspec.structs.replace(leaf.target, api_key=ctx.provider_key)


async def open_upstream(services: Services, provider: Provider, target: ProviderTarget,
                        upstream: UpstreamRequest, timeout_s: float) -> UpstreamResponse:
    """Send one upstream request and wait for its headers; non-2xx answers become ProviderError."""
    try:
        async with asyncio.timeout(timeout_s):
            response = await services.transport.open(upstream, provider=target.name)
            if response.status >= 400:
                try:
                    content = await response.read()
                finally:
                    await response.close()
                raise provider.error(response.status, content, response.headers, target)
    except TimeoutError:
        raise ProviderTimeout(f"{target.name} did not answer within {timeout_s:.1f}s", provider=target.name) from None
    return response


async def read_upstream(response: UpstreamResponse, target: ProviderTarget, timeout_s: float) -> bytes:
    """Read a whole upstream body within timeout_s, then release the connection."""
    try:
        async with asyncio.timeout(timeout_s):
            return await response.read()
    except TimeoutError:
        raise ProviderTimeout(f"{target.name} did not finish within {timeout_s:.1f}s", provider=target.name) from None
    finally:
        await response.close()


async def _send(services: Services, ctx: RequestContext, provider: Provider, leaf: Any, body: JsonObject, *,
                stream: bool, timeout_s: float) -> UpstreamResponse:
    """Build and send one upstream chat request."""
    target = upstream_target(ctx, leaf)
    return await open_upstream(services, provider, target, provider.chat_request(body, target, stream=stream),
                               timeout_s)


async def complete(services: Services, ctx: RequestContext, plan: Any, body: JsonObject,
                   headers: Mapping[str, str], chat: ChatRequest) -> bytes:
    """Non-streaming: route, call, run output guardrails, and return the OpenAI body bytes."""
    lookup = cache_lookup(services, ctx, plan, body, headers)
    if lookup is not None and lookup.body is not None:
        ctx.response_body = lookup.body
        return lookup.body
    telemetry = services.telemetry

    async def attempt(leaf: Any, leaf_body: JsonObject, timeout_s: float) -> ChatResult:
        provider = services.providers[leaf.target.adapter]
        span = telemetry.begin_attempt(ctx, leaf, provider, leaf_body, stream=False) if telemetry else None
        try:
            response = await _send(services, ctx, provider, leaf, leaf_body, stream=False, timeout_s=timeout_s)
            content = await read_upstream(response, leaf.target, timeout_s)
            result = provider.chat_response(content, leaf.target)
        except (GatewayError, asyncio.CancelledError) as exc:
            if span is not None:
                telemetry.end_attempt(span, error=exc)
            raise
        if span is not None:
            telemetry.end_attempt(span, result=result)
        return result

    result, leaf = await services.router.execute(
        plan, body, ctx.metadata, attempt, deadline=deadline_s(services), on_attempt=ctx.on_attempt
    )
    _served(ctx, leaf)
    ctx.usage = result.usage
    ctx.finish_reason = result.finish_reasons[0] if result.finish_reasons else ""
    if result.response_model:
        ctx.model_served = result.response_model
    content = await guarding.output_completion(services, ctx, leaf, result.body)
    ctx.response_body = content
    if lookup is not None and leaf.cache is not None and ctx.guardrail_outcome != "denied":
        services.cache.store(lookup, content)
    return content


async def open_stream(services: Services, ctx: RequestContext, plan: Any, body: JsonObject,
                      headers: Mapping[str, str], chat: ChatRequest) -> OpenedStream:
    """Streaming: route until one upstream answers 200; retries and fallbacks happen only here."""
    lookup = cache_lookup(services, ctx, plan, body, headers)
    if lookup is not None and lookup.body is not None:
        ctx.response_body = lookup.body
        chunks = completion_to_sse_chunks(lookup.body, include_usage=wants_usage(chat))
        return OpenedStream(response=None, decoder=None, leaf=None, provider=None, span=None, cached=chunks)
    ctx.cache_lookup = lookup
    telemetry = services.telemetry

    async def attempt(leaf: Any, leaf_body: JsonObject, timeout_s: float) -> OpenedStream:
        provider = services.providers[leaf.target.adapter]
        span = telemetry.begin_attempt(ctx, leaf, provider, leaf_body, stream=True) if telemetry else None
        try:
            response = await _send(services, ctx, provider, leaf, leaf_body, stream=True, timeout_s=timeout_s)
        except (GatewayError, asyncio.CancelledError) as exc:
            if span is not None:
                telemetry.end_attempt(span, error=exc)
            raise
        decoder = provider.chat_stream(leaf.target, include_usage=wants_usage(chat))
        return OpenedStream(response=response, decoder=decoder, leaf=leaf, provider=provider, span=span)

    opened, leaf = await services.router.execute(
        plan, body, ctx.metadata, attempt, deadline=deadline_s(services), on_attempt=ctx.on_attempt
    )
    _served(ctx, leaf)
    return opened


def cache_lookup(services: Services, ctx: RequestContext, plan: Any, body: JsonObject,
                 headers: Mapping[str, str]) -> CacheLookup | None:
    """Look the request up in the simple cache when the first target has caching on (namespaced by team)."""
    leaf = plan.leaves()[0]
    if services.cache is None or leaf.cache is None:
        return None
    refresh = bool(headers.get("x-portcullis-cache-force-refresh") or headers.get("x-portkey-cache-force-refresh"))
    started = time.perf_counter_ns()
    lookup: CacheLookup = services.cache.lookup(
        leaf.apply_overrides(body), leaf.cache, namespace=ctx.team, force_refresh=refresh
    )
    ctx.cache_status = lookup.status
    if services.telemetry is not None:
        services.telemetry.record_cache(ctx, lookup.status, started)
    return lookup


def wants_usage(chat: ChatRequest) -> bool:
    return bool(chat.stream_options and chat.stream_options.include_usage)

