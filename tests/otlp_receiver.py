"""A real OTLP/HTTP protobuf receiver on 127.0.0.1 for tests: stores received spans and metrics as plain dicts."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def any_value(value: AnyValue) -> Any:
    """Decode an OTLP AnyValue into the Python value it carries."""
    field = value.WhichOneof("value")
    if field is None:
        return None
    if field == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if field == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, field)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs}


def _decode_spans(body: bytes) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[dict[str, Any]] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append({
                    "name": span.name,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "kind": _KINDS.get(span.kind, str(span.kind)),
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                    "attributes": _attributes(span.attributes),
                    "events": [{"name": e.name, "attributes": _attributes(e.attributes)} for e in span.events],
                    "status": _STATUS.get(span.status.code, str(span.status.code)),
                    "status_message": span.status.message,
                    "resource": resource,
                    "scope": scope_spans.scope.name,
                })
    return spans


def _decode_metrics(body: bytes) -> list[dict[str, Any]]:
    request = ExportMetricsServiceRequest()
    request.ParseFromString(body)
    metrics: list[dict[str, Any]] = []
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data") or ""
                points = getattr(metric, kind).data_points if kind else []
                metrics.append({
                    "name": metric.name,
                    "unit": metric.unit,
                    "kind": kind,
                    "points": [{"attributes": _attributes(p.attributes)} for p in points],
                })
    return metrics


class OtlpReceiver:
    """POST /v1/traces and /v1/metrics (protobuf, optionally gzip/deflate); use as a context manager."""

    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self.spans: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # {"path", "headers"} of every POST
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                receiver._received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if receiver.status != 200:
                    self.send_response(receiver.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                reply = (ExportTraceServiceResponse() if self.path == "/v1/traces"
                         else ExportMetricsServiceResponse()).SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="otlp-receiver", daemon=True)

    @property
    def endpoint(self) -> str:
        """Base URL (what OTEL_EXPORTER_OTLP_ENDPOINT takes)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _received(self, path: str, headers: dict[str, str], body: bytes) -> None:
        spans = _decode_spans(body) if path == "/v1/traces" else []
        metrics = _decode_metrics(body) if path == "/v1/metrics" else []
        with self._changed:
            self.requests.append({"path": path, "headers": headers})
            self.spans.extend(spans)
            self.metrics.extend(metrics)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[OtlpReceiver], bool], timeout: float = 5.0) -> bool:
        """Wait until predicate(self) holds (checked on every received export); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.1))
        return True

    def span(self, name: str) -> dict[str, Any]:
        """The first received span with this name (KeyError if none)."""
        with self._changed:
            for span in self.spans:
                if span["name"] == name:
                    return span
        raise KeyError(name)

    def start(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
