"""Span export plumbing: scrub secrets from exported spans, count exports and drops, abort a dead collector."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status


def _scrubbed_span(span: ReadableSpan, scrub: Callable[[str], str]) -> ReadableSpan:
    def clean(attributes: Any) -> Any:
        if not attributes:
            return attributes
        return {k: scrub(v) if type(v) is str else v for k, v in attributes.items()}

    texts = [v for v in (span.attributes or {}).values() if type(v) is str]
    texts.extend(v for e in span.events for v in (e.attributes or {}).values() if type(v) is str)
    joined = "\x1f".join([*texts, span.status.description or ""])
    if scrub(joined) is joined:  # nothing to remove: export the span as it is
        return span
    status = span.status
    if status.description:
        status = Status(status.status_code, scrub(status.description))
    events = [Event(e.name, clean(e.attributes), e.timestamp) for e in span.events]
    return ReadableSpan(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=clean(span.attributes), events=events, links=span.links, kind=span.kind,
        status=status, start_time=span.start_time, end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class CountingExporter(SpanExporter):
    """Wraps the OTLP exporter (runs on the batch thread): scrubs secrets, counts outcomes, can be aborted."""

    def __init__(self, inner: SpanExporter, scrub: Callable[[str], str] | None) -> None:
        self._inner = inner
        self._scrub = scrub
        self._lock = threading.Lock()
        self._stopped = False
        self.exported = 0
        self.failed = 0
        self.failed_batches = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            batch = [_scrubbed_span(s, self._scrub) for s in spans] if self._scrub else spans
            result = self._inner.export(batch)
        except Exception:
            result = SpanExportResult.FAILURE
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                self.exported += len(spans)
            else:
                self.failed += len(spans)
                self.failed_batches += 1
        return result

    def abort(self) -> None:
        """Stop retries and close the connection pool now (a slow or dead collector must not hold shutdown)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._inner.shutdown()

    def shutdown(self) -> None:
        self.abort()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class CountingBatchProcessor(BatchSpanProcessor):
    """The SDK's BatchSpanProcessor plus an enqueued/dropped count (the SDK only logs drops)."""

    def __init__(self, exporter: SpanExporter, *, max_queue_size: int, schedule_delay_millis: int,
                 max_export_batch_size: int) -> None:
        super().__init__(exporter, max_queue_size=max_queue_size, schedule_delay_millis=schedule_delay_millis,
                         max_export_batch_size=max_export_batch_size)
        self._capacity = max_queue_size
        # The SDK keeps its bounded deque private (SDK pinned; the dead-collector test asserts drops are counted).
        self._queue = getattr(getattr(self, "_batch_processor", None), "_queue", None)
        self.enqueued = 0
        self.dropped = 0

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        queue = self._queue
        if queue is not None and len(queue) >= self._capacity:
            self.dropped += 1  # drop the newest, silently: the SDK would log a warning per span
            return
        self.enqueued += 1
        super().on_end(span)
