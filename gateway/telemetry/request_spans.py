"""Per-request telemetry: the server span, one CLIENT span per attempt, guardrail and cache spans, and metrics."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import msgspec

from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.telemetry import semconv as sc
from gateway.telemetry.content import input_content_attributes, output_content_attributes
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.redact import Redactor
from gateway.telemetry.tracing import Tracing

_ROUTES = {"chat.completions": "/v1/chat/completions", "embeddings": "/v1/embeddings", "messages": "/v1/messages"}
_OPERATIONS = {"embeddings": "embeddings"}


class AttemptSpan:
    """An open attempt span and what its end needs."""

    __slots__ = ("address", "model", "operation", "provider", "span", "started_ns")

    def __init__(self, span: Any, operation: str, provider: str, model: str, address: str | None) -> None:
        self.span = span
        self.operation = operation
        self.provider = provider
        self.model = model
        self.address = address
        self.started_ns = time.perf_counter_ns()


def _address(base_url: str) -> tuple[str | None, int | None]:
    parts = urlsplit(base_url)
    return parts.hostname, parts.port


def _error_kind(error: BaseException | None) -> str | None:
    if error is None:
        return None
    kind = getattr(error, "kind", None)
    if isinstance(kind, str):
        return kind
    if isinstance(error, GatewayError):
        return error.error_type
    return type(error).__name__


class RequestTelemetry:
    """Owns Tracing and Metrics for the gateway; every call is cheap and never raises into a request."""

    def __init__(self, tracing: Tracing, metrics: Metrics | None, *, capture_content: bool, redactor: Redactor) -> None:
        self.tracing = tracing
        self.metrics = metrics
        self.capture_content = capture_content
        self.redactor = redactor

    def begin_request(self, ctx: RequestContext, headers: Mapping[str, str], method: str, path: str) -> Any:
        """Open the SERVER span (continuing a caller's traceparent) and stamp the trace id on the context."""
        route = _ROUTES.get(ctx.endpoint, path)
        attributes = sc.request_start_attributes(ctx.request_id, method, path, route, ctx.user_agent or None)
        span = self.tracing.start_server_span(sc.server_span_name(method, route), self.tracing.extract(headers),
                                              attributes)
        ctx.trace_id = self.tracing.trace_id_hex(span)
        ctx.traceparent = self.tracing.traceparent_of(span)
        return span

    def begin_attempt(self, ctx: RequestContext, leaf: Any, provider: Any, body: Mapping[str, Any], *,
                      stream: bool) -> AttemptSpan:
        """Open the CLIENT span `{operation} {model}` with the GenAI request attributes."""
        operation = _OPERATIONS.get(ctx.endpoint, "chat")
        model = leaf.target.model
        host, port = _address(leaf.target.base_url)
        attributes = sc.attempt_start_attributes(operation, provider.otel_name, model, body, host, port)
        if self.capture_content and isinstance(body.get("messages"), list):
            attributes.update(input_content_attributes(body["messages"], self.redactor.scrub))
        span = self.tracing.start_child(sc.span_name(operation, model), ctx.server_span, "CLIENT", attributes)
        return AttemptSpan(span, operation, provider.otel_name, model, host)

    def end_attempt(self, handle: AttemptSpan, *, result: Any = None, error: BaseException | None = None,
                    stream_ctx: RequestContext | None = None) -> None:
        """Close an attempt span with response facts (from a result or a finished stream) and record metrics."""
        usage = finish = response_id = response_model = None
        ttfc_s = None
        if result is not None:
            usage, finish = result.usage, result.finish_reasons
            response_id, response_model = result.response_id or None, result.response_model or None
        elif stream_ctx is not None:
            usage = stream_ctx.usage
            finish = [stream_ctx.finish_reason] if stream_ctx.finish_reason else None
            response_id, response_model = stream_ctx.stream_id or None, stream_ctx.model_served or None
            if stream_ctx.ttft_ns is not None:
                ttfc_s = max(0.0, (stream_ctx.start_ns + stream_ctx.ttft_ns - handle.started_ns) / 1e9)
        kind = _error_kind(error)
        attributes = sc.attempt_end_attributes(response_id, response_model, finish, usage, kind, ttfc_s)
        if self.capture_content and error is None:
            attributes.update(self._output_content(result, stream_ctx))
        message = self.redactor.scrub(str(getattr(error, "message", error))) if error is not None else None
        self.tracing.end(handle.span, attributes, error=message)
        if self.metrics is not None:
            self.metrics.record_attempt(
                operation=handle.operation, provider_otel_name=handle.provider, request_model=handle.model,
                duration_s=(time.perf_counter_ns() - handle.started_ns) / 1e9, response_model=response_model,
                server_address=handle.address, error_type=kind,
                input_tokens=usage.input_tokens if usage is not None else None,
                output_tokens=usage.output_tokens if usage is not None else None, time_to_first_chunk_s=ttfc_s)

    def _output_content(self, result: Any, stream_ctx: RequestContext | None) -> dict[str, Any]:
        """gen_ai.output.messages from a completion body or a finished stream (only when capture is on)."""
        if result is not None:
            try:
                choices = msgspec.json.decode(result.body).get("choices") or []
            except (msgspec.DecodeError, AttributeError):
                return {}
        elif stream_ctx is not None:
            choices = [{"message": {"role": "assistant", "content": "".join(stream_ctx.stream_text)},
                        "finish_reason": stream_ctx.finish_reason}]
        else:
            return {}
        return output_content_attributes(choices, self.redactor.scrub)

    def record_guardrail(self, ctx: RequestContext, result: Any) -> None:
        """A finished guardrail check as a child span (timing known) plus its verdict counter."""
        if ctx.server_span is not None:
            attributes = sc.guardrail_attributes(
                result.check_id, result.stage, result.verdict, result.action_taken,
                sum(f.count for f in result.findings), sorted({f.entity for f in result.findings}),
                "guardrail_error" if result.verdict == "error" else None)
            error = self.redactor.scrub(result.error) if result.verdict == "error" and result.error else None
            self.tracing.record_span(sc.guardrail_span_name(result.check_id), ctx.server_span, "INTERNAL",
                                     result.started_unix_ns, result.ended_unix_ns, attributes, error)
        if self.metrics is not None:
            self.metrics.record_guardrail(check_id=result.check_id, stage=result.stage, verdict=result.verdict,
                                          action=result.action_taken)

    def record_cache(self, ctx: RequestContext, status: str, started_perf_ns: int) -> None:
        """The cache lookup as a child span."""
        if ctx.server_span is None:
            return
        start = self.tracing.perf_to_epoch_ns(started_perf_ns)
        end = self.tracing.perf_to_epoch_ns(time.perf_counter_ns())
        self.tracing.record_span("cache lookup", ctx.server_span, "INTERNAL", start, end,
                                 {"portcullis.cache.status": status})

    def end_request(self, ctx: RequestContext, *, status: str, error_type: str, cost_nano_usd: int) -> None:
        """Close the SERVER span and count the request."""
        if ctx.server_span is not None:
            attributes = sc.request_end_attributes(
                ctx.http_status, status, team=ctx.team, key_id=ctx.key_id, endpoint=ctx.endpoint,
                error_type=error_type or None, cache_status=ctx.cache_status)
            if cost_nano_usd:
                attributes.update(sc.cost_attributes(cost_nano_usd))
            message = None
            if ctx.error is not None:
                message = self.redactor.scrub(str(getattr(ctx.error, "message", ctx.error)))
            self.tracing.end(ctx.server_span, attributes, error=message)
        if self.metrics is not None:
            self.metrics.record_request(
                endpoint=ctx.endpoint, status=status, provider=ctx.provider, model=ctx.model_served,
                team=ctx.team, duration_s=ctx.elapsed_ms() / 1000, cost_usd=cost_nano_usd / 1e9 or None)
