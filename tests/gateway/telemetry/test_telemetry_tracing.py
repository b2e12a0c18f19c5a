"""Tracing against a real OTLP/HTTP receiver: names, parent links, GenAI attributes, propagation, dead collectors."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from otlp_receiver import OtlpReceiver

from gateway.telemetry import semconv as sc
from gateway.telemetry.tracing import Tracing, build_tracing, otlp_target
from schemas.log import SpanRow
from schemas.settings import TelemetrySettings

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _one_request(tracing: Tracing, headers: dict[str, str]) -> tuple[object, object]:
    context = tracing.extract(headers)
    server = tracing.start_server_span(
        sc.server_span_name("POST", "/v1/chat/completions"), context,
        sc.request_start_attributes("req-1", "POST", "/v1/chat/completions"),
    )
    now = time.time_ns()
    tracing.record_span(sc.guardrail_span_name("pii"), server, "INTERNAL", now - 2_000_000, now - 1_000_000,
                        sc.guardrail_attributes("pii", "input", "passed", "none", 0, ()), None)
    attempt = tracing.start_child(
        sc.span_name("chat", "gpt-4o"), server, "CLIENT",
        sc.attempt_start_attributes("chat", "openai", "gpt-4o", {"max_tokens": 64, "temperature": 0.5,
                                                                 "stop": ["END"], "stream": True},
                                    "127.0.0.1", 8080),
    )
    tracing.end(attempt, sc.attempt_end_attributes("chatcmpl-1", "gpt-4o-2024-08-06", ["stop"], None, None,
                                                   time_to_first_chunk_s=0.05, cost_usd=0.0012))
    tracing.end(server, sc.request_end_attributes(200, "ok", team="search"))
    return server, attempt


def test_telemetry_spans_reach_otlp_with_genai_attributes(receiver: OtlpReceiver) -> None:
    rows: list[SpanRow] = []
    tracing = build_tracing(TelemetrySettings(otlp_endpoint=receiver.endpoint), submit_span_row=rows.append,
                            environ={"OTEL_SERVICE_NAME": "pc-test"})
    try:
        server, attempt = _one_request(tracing, {})
        assert tracing.force_flush(5.0)
        assert receiver.wait_for(lambda r: len(r.spans) >= 3, timeout=5)
    finally:
        tracing.shutdown()
    root = receiver.span("POST /v1/chat/completions")
    chat = receiver.span("chat gpt-4o")
    guard = receiver.span("guardrail pii")
    assert root["kind"] == "SERVER" and chat["kind"] == "CLIENT" and guard["kind"] == "INTERNAL"
    assert root["parent_span_id"] == ""
    assert chat["parent_span_id"] == root["span_id"] == guard["parent_span_id"]
    assert chat["trace_id"] == root["trace_id"] == tracing.trace_id_hex(server)
    assert chat["span_id"] == tracing.span_id_hex(attempt)
    attrs = chat["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.request.max_tokens"] == 64
    assert attrs["gen_ai.request.stop_sequences"] == ["END"]
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.05)
    assert attrs["gen_ai.usage.cost"] == pytest.approx(0.0012)
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == 8080
    assert attrs["portcullis.request.id"] == "req-1"  # inherited from the server span
    assert "gen_ai.system" not in attrs
    assert guard["attributes"]["portcullis.guardrail.verdict"] == "passed"
    assert guard["end_ns"] - guard["start_ns"] == 1_000_000
    assert root["resource"]["service.name"] == "pc-test"
    assert len(rows) == 3 and {r.trace_id for r in rows} == {root["trace_id"]}
    assert tracing.stats().spans_exported == 3
    assert tracing.capture_content is False


def test_telemetry_continues_caller_traceparent(receiver: OtlpReceiver) -> None:
    tracing = build_tracing(TelemetrySettings(), submit_span_row=None,
                            environ={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.endpoint + "/v1/traces"})
    try:
        server, _ = _one_request(tracing, {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
                                           "tracestate": "vendor=abc"})
        assert tracing.trace_id_hex(server) == CALLER_TRACE
        assert tracing.traceparent_of(server) == f"00-{CALLER_TRACE}-{tracing.span_id_hex(server)}-01"
        tracing.force_flush(5.0)
        assert receiver.wait_for(lambda r: len(r.spans) >= 3)
    finally:
        tracing.shutdown()
    root = receiver.span("POST /v1/chat/completions")
    assert root["trace_id"] == CALLER_TRACE and root["parent_span_id"] == CALLER_SPAN


def test_telemetry_new_trace_without_traceparent_and_bad_traceparent() -> None:
    rows: list[SpanRow] = []
    tracing = build_tracing(TelemetrySettings(), submit_span_row=rows.append, environ={})
    first, _ = _one_request(tracing, {})
    second, _ = _one_request(tracing, {"traceparent": "garbage"})
    tracing.shutdown()
    ids = {tracing.trace_id_hex(first), tracing.trace_id_hex(second)}
    assert len(ids) == 2 and "0" * 32 not in ids
    assert all(row.parent_span_id == "" for row in rows if row.kind == "SERVER")


def test_telemetry_unsampled_caller_still_fills_clickhouse_but_not_otlp(receiver: OtlpReceiver) -> None:
    rows: list[SpanRow] = []
    tracing = build_tracing(TelemetrySettings(otlp_endpoint=receiver.endpoint), submit_span_row=rows.append,
                            environ={})
    try:
        _one_request(tracing, {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"})
        _one_request(tracing, {})
        tracing.force_flush(5.0)
        assert receiver.wait_for(lambda r: len(r.spans) >= 3)
    finally:
        tracing.shutdown()
    assert len(rows) == 6
    assert CALLER_TRACE not in {span["trace_id"] for span in receiver.spans}
    assert len(receiver.spans) == 3


def test_telemetry_otlp_headers_and_compression_from_environment(receiver: OtlpReceiver) -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=blue",
               "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
               "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"}
    tracing = build_tracing(TelemetrySettings(), submit_span_row=None, environ=environ)
    try:
        _one_request(tracing, {})
        tracing.force_flush(5.0)
        assert receiver.wait_for(lambda r: len(r.spans) >= 3)
    finally:
        tracing.shutdown()
    assert tracing.capture_content is True
    headers = receiver.requests[0]["headers"]
    assert headers["x-tenant"] == "blue" and headers["content-encoding"] == "gzip"


def test_telemetry_dead_collector_never_blocks_and_shutdown_is_fast() -> None:
    rows: list[SpanRow] = []
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    environ = {"OTEL_BSP_MAX_QUEUE_SIZE": "8", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4",
               "OTEL_BSP_SCHEDULE_DELAY": "50"}
    tracing = build_tracing(TelemetrySettings(otlp_endpoint=endpoint), submit_span_row=rows.append,
                            environ=environ)
    started = time.perf_counter()
    for _ in range(50):
        _one_request(tracing, {})
    request_path_s = time.perf_counter() - started
    time.sleep(0.2)  # let the batch thread hit the closed port at least once
    started = time.perf_counter()
    tracing.shutdown(timeout=1.5)
    shutdown_s = time.perf_counter() - started
    stats = tracing.stats()
    assert request_path_s < 1.0
    assert shutdown_s < 2.0
    assert stats.spans_dropped > 0
    assert stats.export_failures >= 1
    assert stats.spans_exported == 0
    assert len(rows) == 150  # the ClickHouse path is unaffected by the dead collector


def test_telemetry_sdk_disabled_keeps_ids_and_records_nothing() -> None:
    rows: list[SpanRow] = []
    tracing = build_tracing(TelemetrySettings(otlp_endpoint="http://127.0.0.1:9"),
                            submit_span_row=rows.append, environ={"OTEL_SDK_DISABLED": "true"})
    server, attempt = _one_request(tracing, {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    fresh, _ = _one_request(tracing, {})
    tracing.shutdown()
    assert not tracing.recording and not tracing.stats().otlp_enabled
    assert tracing.trace_id_hex(server) == CALLER_TRACE == tracing.trace_id_hex(attempt)
    assert tracing.span_id_hex(server) != tracing.span_id_hex(attempt)
    assert tracing.trace_id_hex(fresh) != "0" * 32
    assert rows == []
    assert otlp_target("traces", TelemetrySettings(otlp_endpoint="http://x:4318"),
                       {"OTEL_SDK_DISABLED": "true"}) is None


def test_telemetry_otlp_target_resolution() -> None:
    settings = TelemetrySettings(otlp_endpoint="http://collector:4318/")
    target = otlp_target("traces", settings, {"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"})
    assert target is not None
    assert target.endpoint == "http://collector:4318/v1/traces" and target.timeout_s == 2.5
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m/x"}
    assert otlp_target("traces", settings, env).endpoint == "http://env:4318/v1/traces"  # type: ignore[union-attr]
    assert otlp_target("metrics", settings, env).endpoint == "http://m/x"  # type: ignore[union-attr]
    assert otlp_target("traces", TelemetrySettings(), {}) is None
    assert otlp_target("traces", settings, {"OTEL_TRACES_EXPORTER": "none"}) is None


def test_telemetry_span_cost_per_request() -> None:
    """A server span + guardrail span + attempt span with both processors; prints the CPU cost."""
    rows: list[SpanRow] = []
    tracing = build_tracing(TelemetrySettings(otlp_endpoint=f"http://127.0.0.1:{_closed_port()}"),
                            submit_span_row=rows.append, environ={"OTEL_BSP_SCHEDULE_DELAY": "60000"})
    try:
        for _ in range(200):
            _one_request(tracing, {})
        rounds = 2000
        started = time.process_time()
        for _ in range(rounds):
            _one_request(tracing, {})
        per_request_us = (time.process_time() - started) / rounds * 1e6
    finally:
        tracing.shutdown(timeout=1.0)
    print(f"span cost per request (3 spans, ClickHouse + OTLP processors): {per_request_us:.1f} us")
    assert per_request_us < 2000  # generous: catches pathologies, not noise on a shared 2-core box


def test_telemetry_otlp_export_is_scrubbed_of_known_secrets(receiver: OtlpReceiver) -> None:
    canary = "sk-canary-OTLP-0123456789abcdefghij"
    tracing = build_tracing(TelemetrySettings(otlp_endpoint=receiver.endpoint), submit_span_row=None,
                            environ={}, scrub=lambda text: text.replace(canary, "[REDACTED]"))
    try:
        span = tracing.start_server_span("POST /leak", None, {"error.message": f"bad key {canary}"})
        span.add_event("exception", {"exception.message": canary})
        tracing.end(span, error=f"401: {canary}")
        clean = tracing.start_server_span("GET /clean", None, {"n": 1})
        tracing.end(clean)
        tracing.force_flush(5.0)
        assert receiver.wait_for(lambda r: len(r.spans) >= 2)
    finally:
        tracing.shutdown()
    leak = receiver.span("POST /leak")
    assert canary not in repr(receiver.spans)
    assert leak["attributes"]["error.message"] == "bad key [REDACTED]"
    assert leak["status_message"] == "401: [REDACTED]"
    assert receiver.span("GET /clean")["attributes"] == {"n": 1}
