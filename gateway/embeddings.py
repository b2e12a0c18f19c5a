"""The embeddings sequence: ingress, auth, config, routed attempts; recorded like chat requests."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.background_tasks import BackgroundTask

from gateway.api.errors import render_gateway_error
from gateway.attempts import deadline_s, open_upstream, read_upstream, upstream_target
from gateway.auth import authenticate
from gateway.context import RequestContext
from gateway.errors import ClientCancelled, GatewayError
from gateway.ingress import decode_object, parse_metadata, validate
from gateway.pipeline import apply_tenant, check_model_allowed, first_header, response_headers
from gateway.providers.base import EmbeddingsResult
from gateway.recording import finish_request, finish_request_after_response
from gateway.services import Services


class EmbeddingsRequest(msgspec.Struct, kw_only=True):
    """The fields of an embeddings request the gateway reads (others pass through)."""

    model: str
    input: str | list[Any]  # strings, or token arrays
    dimensions: int | None = None
    encoding_format: str | None = None


async def handle_embeddings(services: Services, request: Request[Any, Any, Any]) -> Response[Any]:
    """Serve one OpenAI embeddings request through the router."""
    ctx = RequestContext(endpoint="embeddings")
    headers = request.headers
    try:
        raw = await request.body()
        ctx.request_body = raw
        body = decode_object(raw)
        embed = validate(body, EmbeddingsRequest)
        ctx.model_requested = embed.model
        tenant = authenticate(headers, services.keys, require_keys=services.settings.require_keys)
        metadata_raw = first_header(headers, ("x-portcullis-metadata", "x-portkey-metadata"))[0]
        apply_tenant(ctx, tenant, parse_metadata(metadata_raw, max_bytes=services.settings.server.max_metadata_bytes))
        check_model_allowed(tenant, embed.model)
        config_raw, config_header = first_header(headers, ("x-portcullis-config", "x-portkey-config"))
        plan = services.resolver.resolve(model=embed.model, header_value=config_raw,
                                         portkey_header=config_header == "x-portkey-config",
                                         key_config_id=tenant.default_config)
        ctx.config_id = plan.config_id
        ctx.log_policy = tenant.log_policy or services.settings.logging.default

        async def attempt(leaf: Any, leaf_body: dict[str, Any], timeout_s: float) -> EmbeddingsResult:
            provider = services.providers[leaf.target.adapter]
            target = upstream_target(ctx, leaf)
            upstream = provider.embeddings_request(leaf_body, target)
            response = await open_upstream(services, provider, target, upstream, timeout_s)
            return provider.embeddings_response(await read_upstream(response, target, timeout_s), target)

        result, leaf = await services.router.execute(plan, body, ctx.metadata, attempt,
                                                     deadline=deadline_s(services), on_attempt=ctx.on_attempt)
        ctx.provider, ctx.target_path = leaf.target.name, leaf.path
        ctx.model_served = result.response_model or leaf.target.model
        ctx.usage = result.usage
        ctx.response_body = b""  # vectors are not worth logging
        return Response(result.body, media_type="application/json", headers=response_headers(ctx),
                        background=BackgroundTask(finish_request_after_response, services, ctx))
    except GatewayError as exc:
        ctx.error, ctx.http_status = exc, exc.http_status
        response = render_gateway_error(exc)
        response.headers.update(response_headers(ctx))
        response.background = BackgroundTask(finish_request_after_response, services, ctx)
        return response
    except asyncio.CancelledError:
        ctx.error, ctx.http_status = ClientCancelled("the client disconnected"), 499
        finish_request(services, ctx)
        raise
