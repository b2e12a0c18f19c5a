"""Metrics: a private MeterProvider with GenAI client metrics, gateway counters, Prometheus text and OTLP export."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from gateway.telemetry import semconv as sc
from gateway.telemetry.tracing import build_resource, otlp_compression, otlp_target, run_bounded
from schemas.settings import TelemetrySettings

# name, unit, description, stats field(s) summed, observable kind
_WRITER_GAUGES = (
    ("portcullis.writer.queue_depth", "{record}", "Records waiting in the writer queue", ("queue_depth",)),
    ("portcullis.writer.spool_bytes", "By", "Bytes in the local spool not yet in ClickHouse", ("spool_bytes",)),
)
_WRITER_COUNTERS = (
    ("portcullis.writer.dropped", "{record}", "Records dropped by the spool cap or a full queue",
     ("records_dropped", "queue_dropped")),
    ("portcullis.writer.dead_letters", "{record}", "Records moved to dead letters", ("dead_letters",)),
    ("portcullis.writer.insert_failures", "{insert}", "Failed ClickHouse inserts", ("insert_failures",)),
)
_TRACING_COUNTERS = (
    ("portcullis.spans.dropped", "{span}", "Spans dropped because the OTLP queue was full", ("spans_dropped",)),
    ("portcullis.spans.export_failures", "{batch}", "Failed OTLP span exports", ("export_failures",)),
)


def _field_sum(stats: Any, fields: Iterable[str]) -> int:
    total = 0
    for name in fields:
        value = stats.get(name, 0) if isinstance(stats, Mapping) else getattr(stats, name, 0)
        total += value if isinstance(value, int | float) else 0
    return int(total)


def _observer(source: Callable[[], Any], fields: tuple[str, ...]) -> Callable[[CallbackOptions], list[Observation]]:
    def observe(options: CallbackOptions) -> list[Observation]:
        try:
            return [Observation(_field_sum(source(), fields))]
        except Exception:
            return []

    return observe


class _AbortableMetricExporter(OTLPMetricExporter):
    """OTLP metric exporter whose shutdown can be forced early so a dead collector cannot hold shutdown."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._abort_lock = threading.Lock()
        self._stopped = False
        self.failed_exports = 0

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        if result is not MetricExportResult.SUCCESS:
            self.failed_exports += 1
        return result

    def abort(self) -> None:
        with self._abort_lock:
            if self._stopped:
                return
            self._stopped = True
        super().shutdown()

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.abort()


class Metrics:
    """Instruments and cheap recording functions; render_prometheus() serves GET /metrics."""

    def __init__(self, provider: MeterProvider, registry: CollectorRegistry | None,
                 exporter: _AbortableMetricExporter | None) -> None:
        self._provider = provider
        self._registry = registry
        self._exporter = exporter
        self._closed = False
        meter = provider.get_meter("portcullis")
        self._token_usage = meter.create_histogram(
            sc.METRIC_TOKEN_USAGE, "{token}", "Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=sc.TOKEN_BUCKETS)
        self._operation_duration = meter.create_histogram(
            sc.METRIC_OPERATION_DURATION, "s", "GenAI operation duration (one upstream attempt)",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS)
        self._time_to_first_chunk = meter.create_histogram(
            sc.METRIC_TIME_TO_FIRST_CHUNK, "s", "Time to the first streamed chunk of an upstream attempt",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS)
        self._requests = meter.create_counter(sc.METRIC_REQUESTS, "{request}", "Gateway requests by outcome")
        self._request_duration = meter.create_histogram(
            sc.METRIC_REQUEST_DURATION, "s", "End-to-end gateway request duration",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS)
        self._cost = meter.create_counter(sc.METRIC_COST, "", "Estimated spend in US dollars")
        self._guardrail = meter.create_counter(sc.METRIC_GUARDRAIL_VERDICTS, "{check}", "Guardrail check runs")
        self._retries = meter.create_counter(sc.METRIC_RETRIES, "{retry}", "Upstream retries")
        self._fallbacks = meter.create_counter(sc.METRIC_FALLBACKS, "{fallback}", "Fallbacks to another target")
        self._budget_alerts = meter.create_counter(sc.METRIC_BUDGET_ALERTS, "{alert}", "Budget alerts raised")

    def observe(self, source: Callable[[], Any], gauges: Iterable[tuple[str, str, str, tuple[str, ...]]],
                counters: Iterable[tuple[str, str, str, tuple[str, ...]]]) -> None:
        """Register observable gauges/counters whose values are fields of source() (object or mapping)."""
        meter = self._provider.get_meter("portcullis")
        for name, unit, description, fields in gauges:
            meter.create_observable_gauge(name, [_observer(source, fields)], unit, description)
        for name, unit, description, fields in counters:
            meter.create_observable_counter(name, [_observer(source, fields)], unit, description)

    def record_request(self, *, endpoint: str, status: str, provider: str, model: str, team: str,
                       duration_s: float, cost_usd: float | None = None) -> None:
        """One finished gateway request (status ok|error|denied|cancelled)."""
        attrs = sc.request_metric_attributes(endpoint, status, provider, model, team)
        self._requests.add(1, attrs)
        self._request_duration.record(duration_s, attrs)
        if cost_usd:
            self._cost.add(cost_usd, {sc.TEAM: team, sc.PROVIDER: provider, sc.MODEL: model})

    def record_attempt(self, *, operation: str, provider_otel_name: str, request_model: str,
                       duration_s: float, response_model: str | None = None, server_address: str | None = None,
                       error_type: str | None = None, input_tokens: int | None = None,
                       output_tokens: int | None = None, time_to_first_chunk_s: float | None = None) -> None:
        """One upstream attempt: gen_ai.client.operation.duration, token usage and time to first chunk."""
        attrs = sc.operation_metric_attributes(operation, provider_otel_name, request_model, response_model,
                                               server_address, error_type)
        self._operation_duration.record(duration_s, attrs)
        if input_tokens is not None:
            self._token_usage.record(input_tokens, sc.token_metric_attributes(attrs, "input"))
        if output_tokens is not None:
            self._token_usage.record(output_tokens, sc.token_metric_attributes(attrs, "output"))
        if time_to_first_chunk_s is not None:
            self._time_to_first_chunk.record(time_to_first_chunk_s, attrs)

    def record_guardrail(self, *, check_id: str, stage: str, verdict: str, action: str) -> None:
        """One guardrail check run (verdict passed|failed|error, action none|deny|redact|flag)."""
        self._guardrail.add(1, sc.guardrail_metric_attributes(check_id, stage, verdict, action))

    def record_retry(self, *, provider: str, model: str, reason: str) -> None:
        """A retry of the same target (reason: the error type that caused it)."""
        self._retries.add(1, {sc.PROVIDER: provider, sc.MODEL: model, sc.REASON: reason})

    def record_fallback(self, *, provider: str, model: str, reason: str) -> None:
        """Moving on to the next target (provider/model: the target that failed)."""
        self._fallbacks.add(1, {sc.PROVIDER: provider, sc.MODEL: model, sc.REASON: reason})

    def record_budget_alert(self, *, team: str, level: str) -> None:
        """A budget threshold crossed (level e.g. 'soft' | 'hard')."""
        self._budget_alerts.add(1, {sc.TEAM: team, sc.LEVEL: level})

    def render_prometheus(self) -> tuple[bytes, str]:
        """(body, content type) of the Prometheus text exposition; empty when Prometheus is off."""
        if self._registry is None:
            return b"", CONTENT_TYPE_PLAIN_0_0_4
        return generate_latest(self._registry), CONTENT_TYPE_PLAIN_0_0_4

    def force_flush(self, timeout: float = 5.0) -> bool:
        """Push metrics to the OTLP collector now (no-op without OTLP)."""
        if self._closed:
            return True
        return run_bounded(lambda: self._provider.force_flush(int(timeout * 1000)), timeout,
                           "portcullis-metrics-flush")

    def shutdown(self, timeout: float = 2.0) -> None:
        """Final export and stop; a dead collector costs at most `timeout` seconds."""
        if self._closed:
            return
        self._closed = True
        exporter = self._exporter
        timer = threading.Timer(timeout * 0.6, exporter.abort) if exporter is not None else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            run_bounded(lambda: self._provider.shutdown(int(timeout * 1000)), timeout,
                        "portcullis-metrics-shutdown")
        finally:
            if timer is not None:
                timer.cancel()
            if exporter is not None:
                exporter.abort()


def build_metrics(settings: TelemetrySettings, environ: Mapping[str, str], *,
                  writer_stats: Callable[[], Any] | None,
                  tracing_stats: Callable[[], Any] | None = None) -> Metrics:
    """Metrics with a Prometheus reader in a private registry and, when configured, periodic OTLP export."""
    readers: list[Any] = []
    registry: CollectorRegistry | None = None
    if settings.prometheus:
        registry = CollectorRegistry(auto_describe=False)
        readers.append(PrometheusMetricReader(registry=registry, scope_info_enabled=False))
    exporter: _AbortableMetricExporter | None = None
    target = otlp_target("metrics", settings, environ)
    if target is not None:
        exporter = _AbortableMetricExporter(endpoint=target.endpoint, headers=target.headers,
                                            timeout=target.timeout_s, compression=otlp_compression(target))
        try:
            interval = max(1000, int(environ.get("OTEL_METRIC_EXPORT_INTERVAL", "") or 60000))
        except ValueError:
            interval = 60000
        readers.append(PeriodicExportingMetricReader(
            exporter, export_interval_millis=interval,
            export_timeout_millis=min(interval, int(target.timeout_s * 1000))))
    # Exemplars are off: the Prometheus text format cannot carry them and the filter costs ~0.6 us per record.
    provider = MeterProvider(metric_readers=readers, resource=build_resource(settings, environ),
                             shutdown_on_exit=False, exemplar_filter=AlwaysOffExemplarFilter())
    metrics = Metrics(provider, registry, exporter)
    if writer_stats is not None:
        metrics.observe(writer_stats, _WRITER_GAUGES, _WRITER_COUNTERS)
    if tracing_stats is not None:
        metrics.observe(tracing_stats, (), _TRACING_COUNTERS)
    return metrics
