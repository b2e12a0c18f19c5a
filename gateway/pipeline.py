"""The chat request sequence, top to bottom: ingress, auth, config, guardrails, route, respond."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream

from gateway import attempts as upstream
from gateway import guarding
from gateway.api.errors import render_gateway_error
from gateway.auth import Tenant, authenticate
from gateway.context import RequestContext
from gateway.errors import ClientCancelled, GatewayError, InvalidRequest, PermissionDenied
from gateway.ingress import decode_object, parse_metadata, validate
from gateway.recording import finish_request, finish_request_after_response
from gateway.services import Services
from gateway.streaming import relay_stream
from schemas.chat import ChatRequest, JsonObject

_METADATA_HEADERS = ("x-portcullis-metadata", "x-portkey-metadata")
_CONFIG_HEADERS = ("x-portcullis-config", "x-portkey-config")


def first_header(headers: Mapping[str, str], names: tuple[str, ...]) -> tuple[str | None, str | None]:
    for name in names:
        value = headers.get(name)
        if value:
            return value, name
    return None, None


def response_headers(ctx: RequestContext) -> dict[str, str]:
    """Headers every answer carries: ids, the target that served, retries, cache status, provider."""
    headers = {
        "x-request-id": ctx.request_id,
        "x-portcullis-request-id": ctx.request_id,
        "x-portcullis-trace-id": ctx.trace_id,
        "x-portcullis-retry-count": str(ctx.retry_count),
        "x-portcullis-cache-status": ctx.cache_status,
    }
    if ctx.provider:
        headers["x-portcullis-provider"] = ctx.provider
        headers["x-portcullis-target"] = ctx.target_path or "(root)"
    if ctx.extra_headers:
        headers.update(ctx.extra_headers)
    if ctx.traceparent:
        headers["traceparent"] = ctx.traceparent
    return headers


def apply_tenant(ctx: RequestContext, tenant: Tenant, request_metadata: dict[str, str]) -> None:
    """Key metadata first, request metadata on top; a key's team always wins (keyless callers may name one)."""
    metadata = dict(tenant.metadata)
    metadata.update(request_metadata)
    team = tenant.team if tenant.key_id else (request_metadata.get("team") or tenant.team)
    metadata["team"] = team
    ctx.metadata = metadata
    ctx.team = team
    ctx.key_id = tenant.key_id
    ctx.key_name = tenant.key_name


async def _until_disconnect(request: Request, work: Any) -> Any:
    """Await the upstream work in this task; a watcher task cancels it as soon as the client disconnects."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone = True
        task.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not gone:
            raise
        task.uncancel()
        raise ClientCancelled("the client disconnected before the response was ready") from None
    finally:
        watcher.cancel()


ErrorRenderer = Callable[[GatewayError], Response[bytes]]


async def handle_chat(services: Services, request: Request, *, endpoint: str = "chat.completions",
                      body: JsonObject | None = None, raw: bytes = b"",
                      render_error: ErrorRenderer | None = None) -> Response[Any]:
    """Serve one OpenAI chat completion request (streaming or not); always records it."""
    ctx = RequestContext(endpoint=endpoint)
    headers = request.headers
    ctx.user_agent = headers.get("user-agent", "")
    ctx.client_ip = request.client.host if request.client else ""
    telemetry = services.telemetry
    if telemetry is not None:
        ctx.server_span = telemetry.begin_request(ctx, headers, request.method, request.url.path)
    try:
        if body is None:
            raw = await request.body()
            body = decode_object(raw)
        ctx.request_body = raw
        chat = validate(body, ChatRequest)
        ctx.model_requested = chat.model
        ctx.streamed = bool(chat.stream)
        settings = services.settings
        tenant = authenticate(headers, services.keys, require_keys=settings.require_keys)
        metadata_raw, _ = first_header(headers, _METADATA_HEADERS)
        apply_tenant(ctx, tenant, parse_metadata(metadata_raw, max_bytes=settings.server.max_metadata_bytes))
        check_model_allowed(tenant, chat.model)
        if services.limits is not None:
            await services.limits.admit(ctx, tenant, chat, body)
        config_raw, config_header = first_header(headers, _CONFIG_HEADERS)
        plan = services.resolver.resolve(
            model=chat.model,
            header_value=config_raw,
            portkey_header=config_header == "x-portkey-config",
            key_config_id=tenant.default_config,
        )
        _check_config_allowed(tenant, plan.config_id)
        ctx.config_id = plan.config_id
        ctx.portkey_mode = plan.portkey_form
        ctx.provider_key = provider_key(headers)
        ctx.secrets = presented_secrets(headers)
        leaf_policy = next((leaf.log_policy for leaf in plan.leaves() if leaf.log_policy), None)
        ctx.log_policy = log_policy(headers, leaf_policy or tenant.log_policy or settings.logging.default,
                                    allow_request=settings.logging.allow_request_policy)
        body = await guarding.input_request(services, ctx, plan, body)
        if chat.stream:
            opened = await _until_disconnect(
                request, upstream.open_stream(services, ctx, plan, body, headers, chat)
            )
            return Stream(
                relay_stream(services, ctx, plan, opened, chat),
                media_type="text/event-stream",
                headers={**response_headers(ctx), "cache-control": "no-cache"},
            )
        content = await _until_disconnect(request, upstream.complete(services, ctx, plan, body, headers, chat))
        return Response(
            content,
            status_code=ctx.http_status,
            media_type="application/json",
            headers=response_headers(ctx),
            background=BackgroundTask(finish_request_after_response, services, ctx),
        )
    except GatewayError as exc:
        return _fail(services, ctx, exc, render_error)
    except asyncio.CancelledError:
        ctx.error = ClientCancelled("the client disconnected")
        ctx.http_status = 499
        finish_request(services, ctx)
        raise


def _check_config_allowed(tenant: Tenant, config_id: str) -> None:
    if tenant.allowed_configs and config_id not in tenant.allowed_configs:
        raise PermissionDenied(f"this key may not use config {config_id!r}", param="x-portcullis-config",
                               code="config_not_allowed")


def provider_key(headers: Mapping[str, str]) -> str | None:
    """The caller's own provider key for pass-through providers: a dedicated header, or a non-Portcullis bearer."""
    explicit = headers.get("x-portcullis-provider-key")
    if explicit:
        return explicit.strip()
    token = headers.get("authorization", "")
    scheme, _, value = token.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value and not value.startswith("pc-"):
        return value
    return None


_POLICY_RANK = {"full": 2, "metadata": 1, "off": 0}


def log_policy(headers: Mapping[str, str], configured: str, *, allow_request: bool) -> str:
    """The request's logging policy: the configured one, lowered (never raised) by `x-portcullis-log`."""
    asked = headers.get("x-portcullis-log")
    if not asked or not allow_request:
        return configured
    asked = asked.strip().lower()
    if asked not in _POLICY_RANK:
        raise InvalidRequest("x-portcullis-log must be full, metadata or off", param="x-portcullis-log")
    return asked if _POLICY_RANK[asked] < _POLICY_RANK[configured] else configured


def presented_secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    """Credentials in this request's headers (bearer, x-api-key, provider key) to scrub from every sink."""
    values = []
    for name in ("authorization", "x-api-key", "x-portcullis-provider-key", "api-key", "x-goog-api-key"):
        value = headers.get(name)
        if value:
            token = value.partition(" ")[2] if name == "authorization" else value
            if len(token.strip()) >= 6:
                values.append(token.strip())
    return tuple(values)


def check_model_allowed(tenant: Tenant, model: str) -> None:
    if tenant.allowed_models and not any(_glob(pattern, model) for pattern in tenant.allowed_models):
        raise PermissionDenied(f"this key may not use model {model!r}", param="model", code="model_not_allowed")


def _glob(pattern: str, value: str) -> bool:
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return pattern == value


def _fail(services: Services, ctx: RequestContext, exc: GatewayError,
          render_error: ErrorRenderer | None) -> Response[Any]:
    """Record the failure and render it (Portkey-mode guardrail denials get Portkey's shape)."""
    ctx.error = exc
    ctx.http_status = exc.http_status
    response = guarding.portkey_denial(ctx, exc) or (render_error or render_gateway_error)(exc)
    response.headers.update(response_headers(ctx))
    response.background = BackgroundTask(finish_request_after_response, services, ctx)
    return response

