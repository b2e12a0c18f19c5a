"""Finishes a request after its answer left: prices it, redacts and truncates bodies, and hands rows to the writer."""

from __future__ import annotations

import logging

from gateway.context import RequestContext
from gateway.services import Services
from gateway.telemetry.log_builder import build_request_log, error_type, request_status

log = logging.getLogger("portcullis")


def _body_text(services: Services, ctx: RequestContext, raw: bytes | str, limit: int) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    redactor = services.redactor
    if redactor is not None:
        text = redactor.redact_json_text(text, ctx.secrets)
        return redactor.truncate(text, limit)
    return text[:limit]


def finish_request(services: Services, ctx: RequestContext) -> None:
    """Record the request exactly once (span end, metrics, log row); never raises into the response path."""
    if ctx.finished:
        return
    ctx.finished = True
    try:
        _record(services, ctx)
    except Exception:  # recording must never break serving; the failure itself is logged
        log.exception("failed to record request %s", ctx.request_id)


async def finish_request_after_response(services: Services, ctx: RequestContext) -> None:
    """`finish_request` as a coroutine: Litestar would run a sync background task on a worker thread, a
    thread hop per request for work that takes microseconds and never blocks."""
    finish_request(services, ctx)


def _record(services: Services, ctx: RequestContext) -> None:
    cost, known = 0, False
    if services.prices is not None and ctx.usage is not None and ctx.provider:
        provider = services.settings.providers.get(ctx.provider)
        adapter = services.providers.get(provider.adapter) if provider else None
        otel_name = adapter.otel_name if adapter else ctx.provider
        cost, known = services.prices.cost(otel_name, ctx.model_served or ctx.model_requested, ctx.usage)
    if services.limits is not None:
        services.limits.settle(ctx, cost)
    if services.telemetry is not None:
        services.telemetry.end_request(ctx, status=request_status(ctx), error_type=error_type(ctx),
                                       cost_nano_usd=cost)
    if services.writer is None or ctx.log_policy == "off":
        return
    limit = services.settings.logging.max_body_bytes
    full = ctx.log_policy == "full"
    response_raw: bytes | str = ctx.response_body or "".join(ctx.stream_text)
    row = build_request_log(
        ctx,
        request_body=_body_text(services, ctx, ctx.request_body, limit) if full else "",
        response_body=_body_text(services, ctx, response_raw, limit) if full else "",
        cost_nano_usd=cost,
        price_known=known,
    )
    services.writer.submit(row)
    for guardrail_row in ctx.guardrail_rows:
        services.writer.submit(guardrail_row)
