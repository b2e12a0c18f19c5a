"""Span processor that turns every finished span into a SpanRow for the durable writer (the UI's waterfall)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from gateway.telemetry.semconv import REQUEST_ID
from schemas.log import SpanRow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_json_encode = msgspec.json.Encoder().encode


def _datetime(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _attr_text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is tuple or kind is list:
        return _json_encode(list(value)).decode()
    return _json_encode(value).decode()


def stringify_attributes(attributes: Any, scrub: Callable[[str], str] | None = None) -> dict[str, str]:
    """OTel attributes as the spans table stores them: strings as-is, everything else JSON-encoded.

    scrub (the redactor's) runs once over all values joined; only when it changes something is each
    value scrubbed, so the common case costs one pass. scrub must return its argument unchanged
    (the same object) when it finds nothing.
    """
    if not attributes:
        return {}
    out = {key: _attr_text(value) for key, value in attributes.items()}
    if scrub is not None:
        joined = "\x1f".join(out.values())
        if scrub(joined) is not joined:
            out = {key: scrub(value) for key, value in out.items()}
    return out


def _raw_attributes(span: ReadableSpan) -> Any:
    # ReadableSpan.attributes wraps the SDK's BoundedAttributes in a MappingProxyType, and iterating that
    # goes through the slow Mapping ABC; read the plain dict underneath when the (pinned) SDK has one.
    bounded = getattr(span, "_attributes", None)
    plain = getattr(bounded, "_dict", None)
    return plain if isinstance(plain, dict) else span.attributes


def _events_json(span: ReadableSpan, scrub: Callable[[str], str] | None) -> str:
    events = span.events
    if not events:
        return "[]"
    encoded = [
        {"name": event.name, "time_unix_nano": event.timestamp,
         "attributes": stringify_attributes(event.attributes, scrub)}
        for event in events
    ]
    return _json_encode(encoded).decode()


def span_row(span: ReadableSpan, service_name: str, scrub: Callable[[str], str] | None = None) -> SpanRow:
    """Convert one finished span into the row of the `spans` table."""
    context = span.context
    parent = span.parent
    start = span.start_time or 0
    end = span.end_time or start
    status = span.status
    attributes = stringify_attributes(_raw_attributes(span), scrub)
    message = status.description or ""
    if scrub is not None and message:
        message = scrub(message)
    return SpanRow(
        trace_id=format(context.trace_id, "032x") if context else "",
        span_id=format(context.span_id, "016x") if context else "",
        parent_span_id=format(parent.span_id, "016x") if parent else "",
        name=span.name,
        kind=span.kind.name,
        started_at=_datetime(start),
        ended_at=_datetime(end),
        duration_ms=(end - start) / 1e6,
        status_code=status.status_code.name,
        status_message=message,
        attributes=attributes,
        events_json=_events_json(span, scrub),
        service_name=service_name,
        request_id=attributes.get(REQUEST_ID, ""),
    )


class ClickHouseSpanProcessor(SpanProcessor):
    """Hands each finished, sampled span to `submit` as a SpanRow: no I/O, never raises, failures are counted."""

    def __init__(
        self,
        submit: Callable[[SpanRow], None],
        service_name: str,
        scrub: Callable[[str], str] | None = None,
    ) -> None:
        self._submit = submit
        self._service_name = service_name
        self._scrub = scrub
        self.rows_submitted = 0
        self.rows_failed = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Convert and submit; a conversion or submit failure is counted, never raised into the request."""
        try:
            self._submit(span_row(span, self._service_name, self._scrub))
        except Exception:
            self.rows_failed += 1  # counters are best-effort (no lock on the hot path)
            return
        self.rows_submitted += 1

    def shutdown(self) -> None:
        """The writer owns durability; nothing is buffered here."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here."""
        return True
