"""Metrics: Prometheus text in a private registry with GenAI names, writer gauges, OTLP export, bounded shutdown."""

from __future__ import annotations

import socket
import time

import msgspec
from otlp_receiver import OtlpReceiver
from prometheus_client import REGISTRY, generate_latest

from gateway.telemetry.metrics import Metrics, build_metrics
from schemas.settings import TelemetrySettings


class FakeWriterStats(msgspec.Struct, kw_only=True, frozen=True):
    """The shape of gateway.store.writer.WriterStats fields the metrics read (a plain value, not a mock)."""

    queue_depth: int = 7
    spool_bytes: int = 4096
    records_dropped: int = 2
    queue_dropped: int = 1
    dead_letters: int = 3
    insert_failures: int = 5


def _record_some(metrics: Metrics) -> None:
    metrics.record_attempt(operation="chat", provider_otel_name="openai", request_model="gpt-4o",
                           response_model="gpt-4o-2024-08-06", server_address="127.0.0.1", duration_s=0.42,
                           input_tokens=120, output_tokens=30, time_to_first_chunk_s=0.08)
    metrics.record_attempt(operation="chat", provider_otel_name="openai", request_model="gpt-4o", duration_s=1.5,
                           error_type="timeout")
    metrics.record_request(endpoint="chat.completions", status="ok", provider="openai", model="gpt-4o",
                           team="search", duration_s=0.5, cost_usd=0.0021)
    metrics.record_guardrail(check_id="pii", stage="input", verdict="failed", action="redact")
    metrics.record_retry(provider="openai", model="gpt-4o", reason="timeout")
    metrics.record_fallback(provider="openai", model="gpt-4o", reason="timeout")
    metrics.record_budget_alert(team="search", level="soft")


def test_telemetry_prometheus_text_has_genai_metrics() -> None:
    metrics = build_metrics(TelemetrySettings(), {}, writer_stats=FakeWriterStats)
    try:
        _record_some(metrics)
        body, content_type = metrics.render_prometheus()
    finally:
        metrics.shutdown()
    text = body.decode()
    assert content_type.startswith("text/plain")
    for name in (
        "gen_ai_client_token_usage_bucket", "gen_ai_client_operation_duration_seconds_bucket",
        "gen_ai_client_operation_time_to_first_chunk_seconds_bucket", "portcullis_requests_total",
        "portcullis_request_duration_seconds_bucket", "portcullis_cost_usd_total",
        "portcullis_guardrail_verdicts_total", "portcullis_retries_total", "portcullis_fallbacks_total",
        "portcullis_budget_alerts_total",
    ):
        assert name in text, name
    assert 'gen_ai_token_type="input"' in text and 'gen_ai_token_type="output"' in text
    assert 'gen_ai_provider_name="openai"' in text and 'error_type="timeout"' in text
    assert 'le="67108864"' in text and 'le="81.92"' in text  # semconv bucket boundaries
    assert 'portcullis_guardrail_verdict="failed"' in text
    assert "portcullis_writer_queue_depth 7.0" in text
    assert "portcullis_writer_spool_bytes 4096.0" in text
    assert "portcullis_writer_dropped_total 3.0" in text
    assert "portcullis_writer_dead_letters_total 3.0" in text
    # The private registry keeps our series out of prometheus_client's process-global one.
    assert b"gen_ai_client" not in generate_latest(REGISTRY)


def test_telemetry_prometheus_off_and_broken_writer_stats() -> None:
    def broken() -> FakeWriterStats:
        raise RuntimeError("writer gone")

    metrics = build_metrics(TelemetrySettings(prometheus=False), {}, writer_stats=broken)
    _record_some(metrics)
    assert metrics.render_prometheus()[0] == b""
    metrics.shutdown()
    on = build_metrics(TelemetrySettings(), {}, writer_stats=broken)
    assert b"portcullis_writer_queue_depth" not in on.render_prometheus()[0]
    on.shutdown()


def test_telemetry_metrics_reach_otlp() -> None:
    with OtlpReceiver() as receiver:
        metrics = build_metrics(TelemetrySettings(prometheus=False),
                                {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}, writer_stats=FakeWriterStats)
        try:
            _record_some(metrics)
            assert metrics.force_flush(5.0)
            assert receiver.wait_for(lambda r: any(m["name"] == "gen_ai.client.token.usage" for m in r.metrics))
        finally:
            metrics.shutdown()
    names = {m["name"] for m in receiver.metrics}
    assert {"gen_ai.client.operation.duration", "portcullis.requests", "portcullis.writer.queue_depth"} <= names
    usage = next(m for m in receiver.metrics if m["name"] == "gen_ai.client.token.usage")
    assert usage["kind"] == "histogram" and usage["unit"] == "{token}"
    assert {p["attributes"]["gen_ai.token.type"] for p in usage["points"]} == {"input", "output"}


def test_telemetry_metrics_dead_collector_shutdown_is_fast() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    metrics = build_metrics(TelemetrySettings(), {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"},
                            writer_stats=None)
    _record_some(metrics)
    started = time.perf_counter()
    metrics.shutdown(timeout=1.5)
    assert time.perf_counter() - started < 2.0


def test_telemetry_metrics_recording_cost() -> None:
    metrics = build_metrics(TelemetrySettings(), {}, writer_stats=None)
    rounds = 2000
    started = time.process_time()
    for _ in range(rounds):
        metrics.record_attempt(operation="chat", provider_otel_name="openai", request_model="gpt-4o",
                               response_model="gpt-4o", duration_s=0.3, input_tokens=10, output_tokens=5)
        metrics.record_request(endpoint="chat.completions", status="ok", provider="openai", model="gpt-4o",
                               team="t", duration_s=0.31, cost_usd=0.001)
    per_request_us = (time.process_time() - started) / rounds * 1e6
    metrics.shutdown()
    print(f"metrics cost per request (record_attempt + record_request): {per_request_us:.1f} us")
    assert per_request_us < 2000
