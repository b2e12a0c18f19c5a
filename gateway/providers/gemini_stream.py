"""Gemini response facts (finish reasons, usage, parts) and the streamGenerateContent → chunk decoder."""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec

from gateway.errors import ProviderStreamError
from gateway.providers.base import StreamEvent, TokenUsage
from gateway.providers.openai_shapes import DONE_FRAME, ChunkWriter
from gateway.providers.sse import SSEStreamDecoder

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}

_json = msgspec.json.Decoder()


def gemini_usage(raw: Any) -> TokenUsage | None:
    """usageMetadata → TokenUsage (prompt includes cached content; output = candidates + thoughts)."""
    if not isinstance(raw, dict):
        return None
    thoughts = int(raw.get("thoughtsTokenCount") or 0)
    return TokenUsage(
        input_tokens=int(raw.get("promptTokenCount") or 0) + int(raw.get("toolUsePromptTokenCount") or 0),
        output_tokens=int(raw.get("candidatesTokenCount") or 0) + thoughts,
        cached_input_tokens=int(raw.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


def finish_reason(raw: Any, has_tool_calls: bool) -> str:
    """Gemini finishReason → OpenAI finish_reason (a normal stop after function calls is `tool_calls`)."""
    reason = FINISH_REASONS.get(str(raw), "stop")
    return "tool_calls" if has_tool_calls and reason == "stop" else reason


def new_response_id() -> str:
    """An id for responses that carry no responseId."""
    return f"chatcmpl-{uuid.uuid4().hex}"


def split_parts(content: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Visible text parts (thought summaries excluded) and functionCall parts of one candidate."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    parts = content.get("parts") if isinstance(content, dict) else None
    for part in parts or ():
        if not isinstance(part, dict) or part.get("thought"):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part.get("functionCall"), dict):
            calls.append(part["functionCall"])
    return texts, calls


def tool_call(call: dict[str, Any], fallback_id: str) -> dict[str, Any]:
    """A Gemini functionCall as an OpenAI tool call (arguments JSON-encoded)."""
    return {
        "id": call.get("id") or fallback_id,
        "type": "function",
        "function": {"name": call.get("name"), "arguments": json.dumps(call.get("args") or {})},
    }


class GeminiStreamDecoder(SSEStreamDecoder):
    """Each SSE event is a partial GenerateContentResponse; text and function calls become OpenAI deltas."""

    __slots__ = ("_finished", "_started", "_tool_counts", "_usage", "_writer")

    def __init__(self, provider: str, *, include_usage: bool) -> None:
        super().__init__(provider, include_usage=include_usage)
        self._writer = ChunkWriter()
        self._started = False
        self._finished = False
        self._tool_counts: dict[int, int] = {}  # candidate index → tool calls emitted so far
        self._usage: TokenUsage | None = None

    def _end(self) -> list[StreamEvent]:
        """Usage chunk (if asked) and [DONE]; a stream without a finishReason is an error."""
        events: list[StreamEvent] = []
        if not self._finished:
            raise ProviderStreamError(f"{self._provider} stream ended without a finishReason", provider=self._provider)
        if self._usage is not None:
            data = self._writer.usage_chunk(self._usage) if self._include_usage else b""
            events.append(StreamEvent(data=data, usage=self._usage))
        events.append(StreamEvent(data=DONE_FRAME, done=True))
        return events

    def _translate(self, data: bytes) -> list[StreamEvent]:
        try:
            response = _json.decode(data)
        except msgspec.DecodeError as exc:
            raise ProviderStreamError(
                f"{self._provider} sent a malformed stream event", provider=self._provider
            ) from exc
        if not isinstance(response, dict):
            raise ProviderStreamError(f"{self._provider} sent a malformed stream event", provider=self._provider)
        if isinstance(response.get("error"), dict):
            error = response["error"]
            raise ProviderStreamError(
                f"{self._provider} stream error ({error.get('status')}): {error.get('message')}",
                provider=self._provider,
                error_type=str(error.get("status") or "api_error"),
            )
        events = self._start(response) if not self._started else []
        self._usage = gemini_usage(response.get("usageMetadata")) or self._usage
        for candidate in response.get("candidates") or ():
            events.extend(self._candidate(candidate))
        block = (response.get("promptFeedback") or {}).get("blockReason")
        if block and not response.get("candidates"):
            self._finished = True
            events.append(StreamEvent(data=self._writer.chunk({}, "content_filter"), finish_reason="content_filter"))
        return events

    def _start(self, response: dict[str, Any]) -> list[StreamEvent]:
        self._started = True
        self._writer.response_id = str(response.get("responseId") or new_response_id())
        self._writer.model = str(response.get("modelVersion") or "")
        data = self._writer.chunk({"role": "assistant", "content": ""})
        return [StreamEvent(data=data, response_id=self._writer.response_id, response_model=self._writer.model or None)]

    def _candidate(self, candidate: dict[str, Any]) -> list[StreamEvent]:
        index = int(candidate.get("index") or 0)
        texts, calls = split_parts(candidate.get("content"))
        events: list[StreamEvent] = []
        text = "".join(texts)
        if text:
            events.append(StreamEvent(data=self._writer.chunk({"content": text}, index=index), text=text))
        for call in calls:
            position = self._tool_counts.get(index, 0)
            self._tool_counts[index] = position + 1
            delta = {"tool_calls": [{"index": position, **tool_call(call, f"call_{index}_{position}")}]}
            events.append(StreamEvent(data=self._writer.chunk(delta, index=index)))
        if candidate.get("finishReason"):
            self._finished = True
            reason = finish_reason(candidate["finishReason"], index in self._tool_counts)
            events.append(StreamEvent(data=self._writer.chunk({}, reason, index=index), finish_reason=reason))
        return events
