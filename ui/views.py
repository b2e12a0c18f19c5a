"""View models for the pages (trace rows, trace detail, waterfall) and the display formats templates use."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

import msgspec

MAX_BODY_DISPLAY = 200_000
WATERFALL_WIDTH = 1000


def usd(nano: float) -> str:
    """Nano-USD as dollars with sensible precision."""
    dollars = nano / 1e9
    if dollars == 0:
        return "$0"
    if abs(dollars) >= 100:
        return f"${dollars:,.0f}"
    if abs(dollars) >= 1:
        return f"${dollars:,.2f}"
    if abs(dollars) >= 0.01:
        return f"${dollars:.4f}"
    return f"${dollars:.6f}"


def millis(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def count(value: float) -> str:
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def moment(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def pretty_body(body: str) -> str:
    """JSON bodies indented; anything else as is; long bodies cut (the template escapes the result)."""
    text = body[:MAX_BODY_DISPLAY]
    with contextlib.suppress(msgspec.DecodeError, UnicodeDecodeError):
        text = msgspec.json.format(text.encode(), indent=2).decode()
    return text + ("\n… (truncated for display)" if len(body) > MAX_BODY_DISPLAY else "")


class TraceRow(msgspec.Struct, kw_only=True, frozen=True):
    """One line of the trace list."""

    request_id: str
    trace_id: str
    started_at: datetime
    status: str
    http_status: int
    provider: str
    model: str
    team: str
    feature: str
    user: str
    key: str
    duration_ms: float
    ttft_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_nano_usd: int
    price_known: bool
    cache_status: str
    guardrail_outcome: str
    retry_count: int
    endpoint: str
    streamed: bool
    cursor: str


def trace_rows(rows: list[tuple[Any, ...]], sort: str) -> list[TraceRow]:
    """List rows to view models; `cursor` is the keyset position after this row."""
    out = []
    for row in rows:
        sort_value = row[-1]
        cursor_value = sort_value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(sort_value, datetime) else (
            repr(float(sort_value)) if sort == "duration_ms" else str(int(sort_value)))
        values = dict(zip(TraceRow.__struct_fields__[:-1], row[:-1], strict=True))
        out.append(TraceRow(**values, cursor=f"{cursor_value}~{row[0]}"))
    return out


class Attempt(msgspec.Struct, kw_only=True, frozen=True):
    index: int
    target_path: str
    provider: str
    model: str
    status: int
    error_type: str
    error_message: str
    started_at: datetime
    latency_ms: float
    retry_index: int


def attempts(row: dict[str, Any]) -> list[Attempt]:
    columns = ("target_path", "provider", "model", "status", "error_type", "error_message", "started_at",
               "latency_ms", "retry_index")
    arrays = [row[f"attempt_{c}"] for c in columns]
    return [Attempt(index=i + 1, **dict(zip(columns, values, strict=True)))
            for i, values in enumerate(zip(*arrays, strict=True))]


class WaterfallBar(msgspec.Struct, kw_only=True, frozen=True):
    """One span as a row: indentation depth and bar geometry in a WATERFALL_WIDTH-wide viewBox."""

    span_id: str
    name: str
    kind: str
    status_code: str
    status_message: str
    depth: int
    x: float
    width: float
    offset_ms: float
    duration_ms: float
    css_class: str
    attributes: list[tuple[str, str]]
    events_json: str


def _span_class(span: dict[str, Any]) -> str:
    name = str(span["name"]).lower()
    if span["status_code"] == "ERROR":
        return "bar-error"
    if span["kind"] == "SERVER":
        return "bar-server"
    if "guardrail" in name or "guard" in name:
        return "bar-guard"
    if "cache" in name:
        return "bar-cache"
    if span["kind"] == "CLIENT":
        return "bar-client"
    return "bar-internal"


def waterfall(spans: list[dict[str, Any]]) -> tuple[list[WaterfallBar], float]:
    """Spans in tree order (parents before children, siblings by start) with bar geometry; and the total ms."""
    if not spans:
        return [], 0.0
    start = min(s["started_at"] for s in spans)
    end = max(s["ended_at"] for s in spans)
    total_ms = max((end - start).total_seconds() * 1000, 0.001)
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else ""
        children.setdefault(parent, []).append(span)
    ordered: list[tuple[dict[str, Any], int]] = []
    stack = [(s, 0) for s in reversed(sorted(children.get("", []), key=lambda s: s["started_at"]))]
    while stack and len(ordered) < len(spans):
        span, depth = stack.pop()
        ordered.append((span, depth))
        kids = sorted(children.get(span["span_id"], []), key=lambda s: s["started_at"])
        stack.extend((kid, depth + 1) for kid in reversed(kids))
    bars = []
    for span, depth in ordered:
        offset_ms = (span["started_at"] - start).total_seconds() * 1000
        x = WATERFALL_WIDTH * offset_ms / total_ms
        width = max(WATERFALL_WIDTH * float(span["duration_ms"]) / total_ms, 2.0)
        bars.append(WaterfallBar(
            span_id=span["span_id"], name=span["name"], kind=span["kind"], status_code=span["status_code"],
            status_message=span["status_message"], depth=min(depth, 8), x=round(min(x, WATERFALL_WIDTH - 2), 2),
            width=round(min(width, WATERFALL_WIDTH - x) if x < WATERFALL_WIDTH - 2 else 2.0, 2),
            offset_ms=offset_ms, duration_ms=float(span["duration_ms"]), css_class=_span_class(span),
            attributes=sorted(dict(span["attributes"]).items()), events_json=pretty_body(span["events_json"])))
    return bars, total_ms


class Finding(msgspec.Struct, kw_only=True, frozen=True):
    """A guardrail finding as stored: entity type and position only."""

    type: str = ""
    start: int | None = None
    end: int | None = None
    score: float | None = None


def findings(findings_json: str) -> list[Finding]:
    try:
        return msgspec.json.decode(findings_json.encode(), type=list[Finding])[:100]
    except (msgspec.DecodeError, msgspec.ValidationError):
        return []
