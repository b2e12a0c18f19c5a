"""Tracing: a private TracerProvider exporting spans over OTLP/HTTP (best effort) and to the ClickHouse writer."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any
from urllib.parse import unquote

import msgspec
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, StaticSampler
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.re import parse_env_headers

from gateway.telemetry.content import content_capture_enabled
from gateway.telemetry.exporters import CountingBatchProcessor, CountingExporter
from gateway.telemetry.semconv import REQUEST_ID
from gateway.telemetry.span_rows import ClickHouseSpanProcessor
from schemas.log import SpanRow
from schemas.settings import TelemetrySettings

log = logging.getLogger("portcullis.telemetry")
Span = trace_api.Span
_KINDS = {"SERVER": SpanKind.SERVER, "CLIENT": SpanKind.CLIENT, "INTERNAL": SpanKind.INTERNAL,
          "PRODUCER": SpanKind.PRODUCER, "CONSUMER": SpanKind.CONSUMER}
_COMPRESSIONS = {"gzip": Compression.Gzip, "deflate": Compression.Deflate, "none": Compression.NoCompression}
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)


class OtlpTarget(msgspec.Struct, kw_only=True, frozen=True):
    """Where and how one OTLP/HTTP signal is exported, resolved from OTEL_* variables and settings."""

    endpoint: str
    headers: dict[str, str]
    timeout_s: float
    compression: str  # none | gzip | deflate


class TracingStats(msgspec.Struct, kw_only=True, frozen=True):
    """Counters of the span pipeline: what reached the OTLP collector and the ClickHouse writer."""

    recording: bool
    otlp_enabled: bool
    spans_enqueued: int = 0
    spans_dropped: int = 0  # the bounded OTLP queue was full
    spans_exported: int = 0
    spans_export_failed: int = 0
    export_failures: int = 0  # failed OTLP batches (dead collector, timeouts, 4xx/5xx)
    span_rows_submitted: int = 0
    span_rows_failed: int = 0


def sdk_disabled(environ: Mapping[str, str]) -> bool:
    """OTEL_SDK_DISABLED=true: no OTLP export of any signal."""
    return environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _timeout_s(raw: str | None) -> float:
    # The OTel spec gives OTEL_EXPORTER_OTLP_*TIMEOUT in milliseconds; clamp so shutdown stays bounded.
    try:
        value = float(raw) / 1000.0 if raw else 10.0
    except ValueError:
        value = 10.0
    return min(max(value, 0.5), 30.0)


def otlp_target(signal: str, settings: TelemetrySettings, environ: Mapping[str, str]) -> OtlpTarget | None:
    """Resolve OTLP export for 'traces' or 'metrics'; None when not configured or disabled."""
    if sdk_disabled(environ) or environ.get(f"OTEL_{signal.upper()}_EXPORTER", "").strip().lower() == "none":
        return None
    prefix = f"OTEL_EXPORTER_OTLP_{signal.upper()}_"
    protocol = (environ.get(prefix + "PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "").strip()
    if protocol and protocol != "http/protobuf":
        log.warning("OTLP protocol %r is not supported; exporting %s with http/protobuf", protocol, signal)
    endpoint = environ.get(prefix + "ENDPOINT", "").strip()
    if not endpoint:
        base = (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or settings.otlp_endpoint or "").strip()
        if not base:
            return None
        endpoint = f"{base.rstrip('/')}/v1/{signal}"
    headers = parse_env_headers(
        environ.get(prefix + "HEADERS") or environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""), liberal=True
    )
    compression = (environ.get(prefix + "COMPRESSION") or environ.get("OTEL_EXPORTER_OTLP_COMPRESSION")
                   or "none").strip().lower()
    return OtlpTarget(
        endpoint=endpoint,
        headers=dict(headers),
        timeout_s=_timeout_s(environ.get(prefix + "TIMEOUT") or environ.get("OTEL_EXPORTER_OTLP_TIMEOUT")),
        compression=compression if compression in _COMPRESSIONS else "none",
    )


def otlp_compression(target: OtlpTarget) -> Compression:
    """The exporter's Compression value for a resolved target."""
    return _COMPRESSIONS[target.compression]


def build_resource(settings: TelemetrySettings, environ: Mapping[str, str]) -> Resource:
    """Resource from OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (which win) and settings."""
    attrs: dict[str, str] = {}
    for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            attrs[key.strip()] = unquote(value.strip())
    attrs["service.name"] = (environ.get("OTEL_SERVICE_NAME", "").strip() or attrs.get("service.name")
                             or settings.service_name)
    with contextlib.suppress(metadata.PackageNotFoundError):
        attrs.setdefault("service.version", metadata.version("portcullis-gateway"))
    attrs.setdefault("service.instance.id", uuid.uuid4().hex)
    attrs["telemetry.sdk.language"] = "python"
    attrs["telemetry.sdk.name"] = "opentelemetry"
    attrs["telemetry.sdk.version"] = metadata.version("opentelemetry-sdk")
    return Resource(attrs)


def default_sampler(environ: Mapping[str, str]) -> Sampler | None:
    """ParentBased(always on), except that spans under an unsampled parent are still recorded (RECORD_ONLY):
    they reach the ClickHouse waterfall but are not exported over OTLP, honouring the caller's decision.
    None (the SDK reads OTEL_TRACES_SAMPLER itself) when the operator chose a sampler."""
    if environ.get("OTEL_TRACES_SAMPLER", "").strip():
        return None
    record_only = StaticSampler(Decision.RECORD_ONLY)
    return ParentBased(ALWAYS_ON, remote_parent_not_sampled=record_only, local_parent_not_sampled=record_only)


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    try:
        return max(1, int(environ.get(name, "") or default))
    except ValueError:
        return default


def run_bounded(action: Callable[[], Any], timeout_s: float, name: str) -> bool:
    """Run action on a daemon thread; True when it finished within timeout_s."""
    done = threading.Event()

    def run() -> None:
        try:
            action()
        except Exception:
            log.exception("%s failed", name)
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    return done.wait(timeout_s)


class Tracing:
    """Owns the tracer provider; starts and ends spans with explicit parents (no context-var magic)."""

    def __init__(self, provider: TracerProvider | None, *, service_name: str,
                 exporter: CountingExporter | None = None, batch: CountingBatchProcessor | None = None,
                 rows: ClickHouseSpanProcessor | None = None, capture_content: bool = False) -> None:
        self.service_name = service_name
        self.capture_content = capture_content  # put gen_ai.*.messages on spans (opt-in)
        self.tracer: trace_api.Tracer = (provider.get_tracer("portcullis") if provider is not None
                                         else trace_api.NoOpTracer())
        self.recording = provider is not None and not isinstance(self.tracer, trace_api.NoOpTracer)
        self._provider = provider
        self._exporter = exporter
        self._batch = batch
        self._rows = rows
        self._propagator = TraceContextTextMapPropagator()
        self._ids = RandomIdGenerator()
        self._epoch_offset_ns = time.time_ns() - time.perf_counter_ns()
        self._closed = False

    def extract(self, headers: Mapping[str, str]) -> Context:
        """The caller's W3C trace context (traceparent/tracestate), or an empty Context for a new trace."""
        parent = headers.get("traceparent") or headers.get("Traceparent")
        if not parent:
            return Context()
        carrier = {"traceparent": parent}
        state = headers.get("tracestate") or headers.get("Tracestate")
        if state:
            carrier["tracestate"] = state
        return self._propagator.extract(carrier, context=Context())

    def _non_recording(self, parent: SpanContext | None) -> Span:
        if parent is not None and parent.is_valid:
            trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
        else:
            trace_id, flags, state = self._ids.generate_trace_id(), _UNSAMPLED, None
        context = SpanContext(trace_id, self._ids.generate_span_id(), is_remote=False, trace_flags=flags,
                              trace_state=state)
        return NonRecordingSpan(context)

    def start_server_span(self, name: str, context: Context | None, attributes: Mapping[str, Any] | None = None,
                          start_time_ns: int | None = None) -> Span:
        """The request's SERVER span, continuing the extracted context (or starting a new trace)."""
        if not self.recording:
            return self._non_recording(trace_api.get_current_span(context or Context()).get_span_context())
        return self.tracer.start_span(name, context=context or Context(), kind=SpanKind.SERVER,
                                      attributes=attributes, start_time=start_time_ns)

    def start_child(self, name: str, parent_span: Span, kind: SpanKind | str = SpanKind.INTERNAL,
                    attributes: Mapping[str, Any] | None = None, start_time_ns: int | None = None) -> Span:
        """A child of parent_span; kind 'CLIENT' for upstream attempts. Inherits portcullis.request.id."""
        if not self.recording:
            return self._non_recording(parent_span.get_span_context())
        request_id = getattr(parent_span, "attributes", None)
        request_id = request_id.get(REQUEST_ID) if request_id else None
        if request_id is not None and (attributes is None or REQUEST_ID not in attributes):
            attributes = {**attributes, REQUEST_ID: request_id} if attributes else {REQUEST_ID: request_id}
        return self.tracer.start_span(
            name, context=trace_api.set_span_in_context(parent_span, Context()),
            kind=_KINDS[kind] if isinstance(kind, str) else kind, attributes=attributes, start_time=start_time_ns,
        )

    @staticmethod
    def end(span: Span, attributes: Mapping[str, Any] | None = None, error: str | None = None,
            end_time_ns: int | None = None) -> None:
        """Add final attributes, set ERROR status when error is given (a redacted message), end the span."""
        if attributes:
            span.set_attributes(attributes)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=end_time_ns)

    def record_span(self, name: str, parent: Span, kind: SpanKind | str, start_ns: int, end_ns: int,
                    attributes: Mapping[str, Any] | None = None, status_error: str | None = None) -> None:
        """A finished child span whose timing is already known (epoch ns; see perf_to_epoch_ns)."""
        span = self.start_child(name, parent, kind, attributes, start_time_ns=start_ns)
        self.end(span, error=status_error, end_time_ns=end_ns)

    def perf_to_epoch_ns(self, perf_counter_ns: int) -> int:
        """Convert a time.perf_counter_ns() reading into the epoch ns spans use."""
        return perf_counter_ns + self._epoch_offset_ns

    @staticmethod
    def traceparent_of(span: Span) -> str:
        """W3C traceparent header value naming this span as the parent."""
        context = span.get_span_context()
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"

    @staticmethod
    def trace_id_hex(span: Span) -> str:
        """32 lowercase hex digits."""
        return format(span.get_span_context().trace_id, "032x")

    @staticmethod
    def span_id_hex(span: Span) -> str:
        """16 lowercase hex digits."""
        return format(span.get_span_context().span_id, "016x")

    def stats(self) -> TracingStats:
        """Counters for /metrics and health pages."""
        exporter, batch, rows = self._exporter, self._batch, self._rows
        return TracingStats(
            recording=self.recording,
            otlp_enabled=exporter is not None,
            spans_enqueued=batch.enqueued if batch else 0,
            spans_dropped=batch.dropped if batch else 0,
            spans_exported=exporter.exported if exporter else 0,
            spans_export_failed=exporter.failed if exporter else 0,
            export_failures=exporter.failed_batches if exporter else 0,
            span_rows_submitted=rows.rows_submitted if rows else 0,
            span_rows_failed=rows.rows_failed if rows else 0,
        )

    def force_flush(self, timeout: float = 5.0) -> bool:
        """Export what is queued; returns False if that did not finish within timeout seconds."""
        provider = self._provider
        if provider is None or self._closed:
            return True
        return run_bounded(provider.force_flush, timeout, "portcullis-trace-flush")

    def shutdown(self, timeout: float = 2.0) -> None:
        """Flush what is queued, then stop; a dead or slow collector costs at most `timeout` seconds."""
        if self._closed or self._provider is None:
            self._closed = True
            return
        self._closed = True
        exporter = self._exporter
        timer = threading.Timer(timeout * 0.6, exporter.abort) if exporter is not None else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            run_bounded(self._provider.shutdown, timeout, "portcullis-trace-shutdown")
        finally:
            if timer is not None:
                timer.cancel()
            if exporter is not None:
                exporter.abort()


def build_tracing(settings: TelemetrySettings, *, submit_span_row: Callable[[SpanRow], None] | None,
                  environ: Mapping[str, str], scrub: Callable[[str], str] | None = None) -> Tracing:
    """Tracing with OTLP export when configured and SpanRows to submit_span_row when spans_to_clickhouse."""
    resource = build_resource(settings, environ)
    service_name = str(resource.attributes["service.name"])
    target = otlp_target("traces", settings, environ)
    # OTEL_SDK_DISABLED=true records no spans at all (the SDK would hand out no-op tracers anyway);
    # trace ids are still minted and propagated so request rows and response headers keep them.
    to_clickhouse = settings.spans_to_clickhouse and submit_span_row is not None and not sdk_disabled(environ)
    if target is None and not to_clickhouse:
        return Tracing(None, service_name=service_name)  # ids and propagation only; nothing records
    limits = SpanLimits(
        max_span_attributes=_env_int(environ, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", 128),
        max_events=_env_int(environ, "OTEL_SPAN_EVENT_COUNT_LIMIT", 128),
        max_links=_env_int(environ, "OTEL_SPAN_LINK_COUNT_LIMIT", 16),
        max_event_attributes=32, max_link_attributes=32,
        max_span_attribute_length=_env_int(environ, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", 64 * 1024),
    )
    provider = TracerProvider(resource=resource, shutdown_on_exit=False, span_limits=limits,
                              sampler=default_sampler(environ))
    exporter = batch = rows = None
    if to_clickhouse and submit_span_row is not None:
        rows = ClickHouseSpanProcessor(submit_span_row, service_name, scrub)
        provider.add_span_processor(rows)
    if target is not None:
        inner = OTLPSpanExporter(endpoint=target.endpoint, headers=target.headers, timeout=target.timeout_s,
                                 compression=otlp_compression(target))
        exporter = CountingExporter(inner, scrub)
        queue_size = _env_int(environ, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        batch = CountingBatchProcessor(
            exporter,
            max_queue_size=queue_size,
            schedule_delay_millis=_env_int(environ, "OTEL_BSP_SCHEDULE_DELAY", 1000),
            max_export_batch_size=min(queue_size, _env_int(environ, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)),
        )
        provider.add_span_processor(batch)
    return Tracing(provider, service_name=service_name, exporter=exporter, batch=batch, rows=rows,
                   capture_content=content_capture_enabled(environ, settings.capture_message_content))
