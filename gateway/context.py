"""RequestContext: everything one request accumulates on its way through the pipeline, passed explicitly."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from gateway.providers.base import TokenUsage
from schemas.log import AttemptLog, GuardrailRow


class RequestContext:
    """Ids, timings, tenant, routing outcome, usage and guardrail results of one request."""

    __slots__ = (
        "attempts",
        "cache_lookup",
        "cache_status",
        "client_ip",
        "config_id",
        "endpoint",
        "error",
        "extra_headers",
        "finish_reason",
        "finished",
        "guardrail_failed",
        "guardrail_outcome",
        "guardrail_rows",
        "http_status",
        "input_outcome",
        "key_id",
        "key_name",
        "log_policy",
        "metadata",
        "model_requested",
        "model_served",
        "output_outcome",
        "portkey_mode",
        "provider",
        "provider_key",
        "request_body",
        "request_id",
        "response_body",
        "secrets",
        "server_span",
        "start_ns",
        "started_at",
        "stream_id",
        "stream_text",
        "streamed",
        "target_path",
        "team",
        "trace_id",
        "traceparent",
        "ttft_ns",
        "usage",
        "user_agent",
    )

    def __init__(self, *, endpoint: str) -> None:
        self.request_id = uuid.uuid4().hex
        self.trace_id = ""
        self.traceparent = ""
        self.endpoint = endpoint
        self.start_ns = time.perf_counter_ns()
        self.started_at = datetime.now(UTC)
        self.ttft_ns: int | None = None
        self.http_status = 200
        self.error: Exception | None = None
        self.extra_headers: dict[str, str] = {}
        self.key_id = ""
        self.key_name = ""
        self.team = ""
        self.metadata: dict[str, str] = {}
        self.config_id = ""
        self.portkey_mode = False
        self.log_policy = "full"
        self.model_requested = ""
        self.model_served = ""
        self.provider = ""
        self.provider_key: str | None = None
        self.target_path = ""
        self.attempts: list[AttemptLog] = []
        self.cache_status = "DISABLED"
        self.cache_lookup: Any = None
        self.streamed = False
        self.finish_reason = ""
        self.finished = False
        self.usage: TokenUsage | None = None
        self.guardrail_rows: list[GuardrailRow] = []
        self.guardrail_outcome = "none"
        self.guardrail_failed: list[str] = []
        self.input_outcome: Any = None
        self.output_outcome: Any = None
        self.request_body: bytes = b""
        self.response_body: bytes = b""
        self.stream_text: list[str] = []
        self.stream_id = ""
        self.server_span: Any = None
        self.secrets: tuple[str, ...] = ()  # credentials this caller presented: scrubbed from every sink
        self.user_agent = ""
        self.client_ip = ""

    def elapsed_ms(self) -> float:
        """Milliseconds since the request arrived."""
        return (time.perf_counter_ns() - self.start_ns) / 1e6

    def mark_first_token(self) -> None:
        """Record time to first token once."""
        if self.ttft_ns is None:
            self.ttft_ns = time.perf_counter_ns() - self.start_ns

    def on_attempt(self, attempt: AttemptLog) -> None:
        """Router callback: remember every attempt."""
        self.attempts.append(attempt)

    @property
    def retry_count(self) -> int:
        """Attempts beyond the first."""
        return max(0, len(self.attempts) - 1)
