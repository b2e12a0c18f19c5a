"""Log rows that map 1:1 to ClickHouse columns: requests, attempts, guardrail results, spans and audit events."""

from __future__ import annotations

from datetime import datetime

import msgspec


class AttemptLog(msgspec.Struct, kw_only=True, frozen=True):
    """One upstream attempt (a retry or a fallback step) of a request."""

    target_path: str  # e.g. "targets[1].targets[0]" ("" for a single target)
    provider: str
    model: str
    status: int  # upstream HTTP status, 0 when no response arrived
    error_type: str = ""  # "", "timeout", "connect_error", "upstream_error", "stream_error", "cancelled", ...
    error_message: str = ""
    started_at: datetime
    latency_ms: float
    retry_index: int = 0


class RequestLog(msgspec.Struct, kw_only=True, frozen=True, tag="request"):
    """One wide row per gateway request (the `requests` table)."""

    request_id: str
    trace_id: str
    span_id: str = ""
    started_at: datetime
    duration_ms: float
    ttft_ms: float | None = None
    endpoint: str  # "chat.completions" | "embeddings" | "messages"
    http_status: int
    status: str  # "ok" | "error" | "denied" | "cancelled"
    error_type: str = ""
    error_message: str = ""
    key_id: str = ""
    key_name: str = ""
    team: str = ""
    feature: str = ""
    user: str = ""
    env: str = ""
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    config_id: str = ""
    provider: str = ""  # provider that served (last attempt)
    model_requested: str = ""
    model_served: str = ""
    target_path: str = ""
    attempts: list[AttemptLog] = msgspec.field(default_factory=list)
    retry_count: int = 0
    streamed: bool = False
    cache_status: str = "DISABLED"  # HIT | MISS | REFRESH | DISABLED
    finish_reason: str = ""
    input_tokens: int = 0  # includes cached input tokens (OTel GenAI convention)
    output_tokens: int = 0  # includes reasoning tokens
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_nano_usd: int = 0
    price_known: bool = False
    guardrail_outcome: str = "none"  # none | passed | flagged | redacted | denied | error
    guardrail_failed: list[str] = msgspec.field(default_factory=list)
    log_policy: str = "full"  # full | metadata
    request_body: str = ""
    response_body: str = ""
    user_agent: str = ""
    client_ip: str = ""


class GuardrailRow(msgspec.Struct, kw_only=True, frozen=True, tag="guardrail"):
    """One guardrail check run (the `guardrail_results` table); never holds the matched text."""

    request_id: str
    trace_id: str
    started_at: datetime
    stage: str  # input | output
    check_id: str
    check_name: str = ""
    verdict: str  # passed | failed | error
    action: str  # none | deny | redact | flag
    entity_types: list[str] = msgspec.field(default_factory=list)
    finding_count: int = 0
    findings_json: str = "[]"  # [{"type","start","end","score"}], positions only
    latency_ms: float = 0.0
    error_message: str = ""
    team: str = ""
    feature: str = ""
    key_id: str = ""


class SpanRow(msgspec.Struct, kw_only=True, frozen=True, tag="span"):
    """One finished OpenTelemetry span (the `spans` table) so the UI needs no tracing backend."""

    trace_id: str
    span_id: str
    parent_span_id: str = ""
    name: str
    kind: str  # SERVER | CLIENT | INTERNAL
    started_at: datetime
    ended_at: datetime
    duration_ms: float
    status_code: str = "UNSET"  # UNSET | OK | ERROR
    status_message: str = ""
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    events_json: str = "[]"
    service_name: str = "portcullis"
    request_id: str = ""


class AuditRow(msgspec.Struct, kw_only=True, frozen=True, tag="audit"):
    """One append-only audit event: UI logins, trace views, admin actions."""

    at: datetime
    actor: str
    role: str = ""
    action: str  # login | login_failed | view_trace | key_create | key_revoke | ...
    target: str = ""
    source_ip: str = ""
    detail: str = ""


LogRecord = RequestLog | GuardrailRow | SpanRow | AuditRow
