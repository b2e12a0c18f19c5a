"""Record factories shared by the store tests (and the SIGKILL child process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.log import RequestLog

BASE_TIME = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)


def make_request(index: int, **changes: object) -> RequestLog:
    """A realistic request row with ~1 KB of bodies."""
    fields: dict[str, object] = dict(
        request_id=f"req-{index:06d}", trace_id=f"{index:032x}", span_id=f"{index:016x}",
        started_at=BASE_TIME + timedelta(milliseconds=index), duration_ms=12.5, ttft_ms=3.25,
        endpoint="chat.completions", http_status=200, status="ok", team="team-a", feature="search",
        provider="openai", model_requested="gpt-4o", model_served="gpt-4o-2024-08-06",
        input_tokens=120, output_tokens=40, cached_input_tokens=20, cost_nano_usd=700_000, price_known=True,
        request_body='{"messages":[{"role":"user","content":"' + "hello " * 80 + '"}]}',
        response_body='{"choices":[{"message":{"content":"' + "world " * 80 + '"}}]}',
    )
    fields.update(changes)
    return RequestLog(**fields)  # type: ignore[arg-type]
