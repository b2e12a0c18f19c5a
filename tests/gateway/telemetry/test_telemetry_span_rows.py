"""ClickHouseSpanProcessor: finished spans become correct SpanRows; failures never reach the request."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from gateway.telemetry import semconv as sc
from gateway.telemetry.redact import Redactor
from gateway.telemetry.tracing import build_tracing
from schemas.log import LogRecord, SpanRow
from schemas.settings import TelemetrySettings

START_NS = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z


def test_telemetry_span_row_fields() -> None:
    rows: list[SpanRow] = []
    tracing = build_tracing(TelemetrySettings(service_name="gw-a"), submit_span_row=rows.append, environ={})
    server = tracing.start_server_span("POST /v1/chat/completions", tracing.extract({}),
                                       {sc.REQUEST_ID: "req-42"}, start_time_ns=START_NS)
    attempt = tracing.start_child("chat gpt-4o", server, "CLIENT",
                                  sc.attempt_start_attributes("chat", "openai", "gpt-4o", {"temperature": 0.7}),
                                  start_time_ns=START_NS + 1_000_000)
    attempt.add_event("retry", {"attempt": 2, "reason": "timeout"}, timestamp=START_NS + 2_000_000)
    tracing.end(attempt, {"flag": True, "ratio": 0.25, "tags": ("a", "b"), "counts": [1, 2]},
                error="upstream timed out", end_time_ns=START_NS + 251_000_000)
    tracing.end(server, end_time_ns=START_NS + 300_000_000)
    tracing.shutdown()

    assert [row.kind for row in rows] == ["CLIENT", "SERVER"]
    child, root = rows
    assert len(root.trace_id) == 32 and len(root.span_id) == 16 and root.parent_span_id == ""
    assert child.trace_id == root.trace_id and child.parent_span_id == root.span_id
    assert root.trace_id == tracing.trace_id_hex(server) and child.span_id == tracing.span_id_hex(attempt)
    assert root.started_at == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert child.duration_ms == 250.0 and root.duration_ms == 300.0
    assert child.status_code == "ERROR" and child.status_message == "upstream timed out"
    assert root.status_code == "UNSET"
    attrs = child.attributes
    assert attrs["gen_ai.request.temperature"] == "0.7"
    assert attrs["flag"] == "true" and attrs["ratio"] == "0.25"
    assert attrs["tags"] == '["a","b"]' and attrs["counts"] == "[1,2]"
    assert all(isinstance(v, str) for v in attrs.values())
    assert msgspec.json.decode(child.events_json) == [
        {"name": "retry", "time_unix_nano": START_NS + 2_000_000,
         "attributes": {"attempt": "2", "reason": "timeout"}}
    ]
    assert root.events_json == "[]"
    assert root.request_id == "req-42" and child.request_id == "req-42"
    assert root.service_name == "gw-a"
    # The row travels through the writer as part of the LogRecord union.
    encoded = msgspec.json.encode(root)
    assert msgspec.json.decode(encoded, type=LogRecord) == root


def test_telemetry_failing_submit_is_counted_not_raised() -> None:
    def broken(row: SpanRow) -> None:
        raise RuntimeError("writer closed")

    tracing = build_tracing(TelemetrySettings(), submit_span_row=broken, environ={})
    span = tracing.start_server_span("GET /x", None, None)
    tracing.end(span)
    tracing.shutdown()
    stats = tracing.stats()
    assert stats.span_rows_failed == 1 and stats.span_rows_submitted == 0


def test_telemetry_span_rows_are_scrubbed_of_known_secrets() -> None:
    canary = "sk-canary-PROVIDER-0123456789abcdef"
    rows: list[SpanRow] = []
    redactor = Redactor([canary])
    tracing = build_tracing(TelemetrySettings(), submit_span_row=rows.append, environ={}, scrub=redactor.scrub)
    span = tracing.start_server_span("POST /v1/chat/completions", None, {"error.message": f"bad key {canary}"})
    span.add_event("exception", {"exception.message": f"401 for {canary}"})
    tracing.end(span, error=f"Incorrect API key provided: {canary}")
    clean = tracing.start_server_span("GET /ok", None, {"n": 1})
    tracing.end(clean)
    tracing.shutdown()
    text = msgspec.json.encode(rows).decode()
    assert canary not in text
    assert rows[0].attributes["error.message"] == "bad key [REDACTED]"
    assert rows[1].attributes == {"n": "1"}


def test_telemetry_spans_to_clickhouse_off_submits_nothing() -> None:
    rows: list[SpanRow] = []
    tracing = build_tracing(TelemetrySettings(spans_to_clickhouse=False), submit_span_row=rows.append, environ={})
    span = tracing.start_server_span("GET /x", None, None)
    tracing.end(span)
    tracing.shutdown()
    assert rows == [] and not tracing.recording
    assert len(tracing.trace_id_hex(span)) == 32 and tracing.trace_id_hex(span) != "0" * 32
