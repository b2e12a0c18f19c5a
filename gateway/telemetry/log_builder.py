"""Turns a finished RequestContext into the RequestLog row (redacted, priced, truncated per logging policy)."""

from __future__ import annotations

from gateway.context import RequestContext
from gateway.errors import GatewayError
from schemas.log import RequestLog


def request_status(ctx: RequestContext) -> str:
    if ctx.error is None:
        return "ok"
    kind = getattr(ctx.error, "type", "")
    if ctx.http_status == 499 or kind == "client_cancelled":
        return "cancelled"
    if ctx.guardrail_outcome == "denied":
        return "denied"
    return "error"


def error_type(ctx: RequestContext) -> str:
    error = ctx.error
    if error is None:
        return ""
    kind = getattr(error, "kind", None)
    if isinstance(kind, str):
        return kind
    if isinstance(error, GatewayError):
        return error.error_type
    return type(error).__name__


def build_request_log(
    ctx: RequestContext,
    *,
    request_body: str,
    response_body: str,
    cost_nano_usd: int,
    price_known: bool,
) -> RequestLog:
    """Assemble the row; bodies arrive already redacted and truncated."""
    usage = ctx.usage
    error = ctx.error
    message = error.message if isinstance(error, GatewayError) else (str(error) if error else "")
    metadata = ctx.metadata
    return RequestLog(
        request_id=ctx.request_id,
        trace_id=ctx.trace_id,
        started_at=ctx.started_at,
        duration_ms=ctx.elapsed_ms(),
        ttft_ms=ctx.ttft_ns / 1e6 if ctx.ttft_ns is not None else None,
        endpoint=ctx.endpoint,
        http_status=ctx.http_status,
        status=request_status(ctx),
        error_type=error_type(ctx),
        error_message=message[:2000],
        key_id=ctx.key_id,
        key_name=ctx.key_name,
        team=ctx.team,
        feature=metadata.get("feature", ""),
        user=metadata.get("user", metadata.get("_user", "")),
        env=metadata.get("env", ""),
        metadata=metadata,
        config_id=ctx.config_id,
        provider=ctx.provider,
        model_requested=ctx.model_requested,
        model_served=ctx.model_served,
        target_path=ctx.target_path,
        attempts=ctx.attempts,
        retry_count=ctx.retry_count,
        streamed=ctx.streamed,
        cache_status=ctx.cache_status,
        finish_reason=ctx.finish_reason,
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cached_input_tokens=usage.cached_input_tokens if usage else 0,
        cache_write_tokens=usage.cache_write_tokens if usage else 0,
        reasoning_tokens=usage.reasoning_tokens if usage else 0,
        cost_nano_usd=cost_nano_usd,
        price_known=price_known,
        guardrail_outcome=ctx.guardrail_outcome,
        guardrail_failed=ctx.guardrail_failed,
        log_policy=ctx.log_policy,
        request_body=request_body,
        response_body=response_body,
        user_agent=ctx.user_agent,
        client_ip=ctx.client_ip,
    )
