"""Decode an Anthropic Messages SSE stream into OpenAI `chat.completion.chunk` SSE events."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.errors import ProviderStreamError
from gateway.providers.base import StreamEvent, TokenUsage
from gateway.providers.openai_shapes import DONE_FRAME, ChunkWriter
from gateway.providers.sse import SSEStreamDecoder

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_json = msgspec.json.Decoder()


def anthropic_usage(raw: Any) -> TokenUsage:
    """Anthropic usage → TokenUsage; input counts cache reads and writes (GenAI: input includes cached)."""
    raw = raw if isinstance(raw, dict) else {}
    cache_read = int(raw.get("cache_read_input_tokens") or 0)
    cache_write = int(raw.get("cache_creation_input_tokens") or 0)
    return TokenUsage(
        input_tokens=int(raw.get("input_tokens") or 0) + cache_read + cache_write,
        output_tokens=int(raw.get("output_tokens") or 0),
        cached_input_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


class AnthropicStreamDecoder(SSEStreamDecoder):
    """message_start → role chunk, blocks → deltas, message_delta → finish chunk, message_stop → [DONE]."""

    __slots__ = ("_finish", "_raw_usage", "_stopped", "_tool_index", "_writer")

    def __init__(self, provider: str, *, include_usage: bool) -> None:
        super().__init__(provider, include_usage=include_usage)
        self._writer = ChunkWriter()
        self._tool_index: dict[int, int] = {}  # Anthropic block index → OpenAI tool_calls index
        self._raw_usage: dict[str, Any] = {}
        self._finish: str | None = None
        self._stopped = False

    def _end(self) -> list[StreamEvent]:
        """A stream cut before message_stop is an error, not a normal end."""
        if not self._stopped:
            raise ProviderStreamError(f"{self._provider} stream ended before message_stop", provider=self._provider)
        return []

    def _translate(self, data: bytes) -> list[StreamEvent]:
        try:
            event = _json.decode(data)
        except msgspec.DecodeError as exc:
            raise ProviderStreamError(
                f"{self._provider} sent a malformed stream event", provider=self._provider
            ) from exc
        if not isinstance(event, dict):
            raise ProviderStreamError(f"{self._provider} sent a malformed stream event", provider=self._provider)
        kind = event.get("type")
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) else None
        return handler(event) if handler is not None else []  # ping and unknown events are skipped

    def _on_error(self, event: dict[str, Any]) -> list[StreamEvent]:
        error = event.get("error") if isinstance(event.get("error"), dict) else {}
        error_type = str(error.get("type") or "api_error")
        raise ProviderStreamError(
            f"{self._provider} stream error ({error_type}): {error.get('message') or 'unknown error'}",
            provider=self._provider,
            error_type=error_type,
            code=error_type,
        )

    def _on_message_start(self, event: dict[str, Any]) -> list[StreamEvent]:
        message = event.get("message") or {}
        self._writer.response_id = str(message.get("id") or "")
        self._writer.model = str(message.get("model") or "")
        self._raw_usage.update(message.get("usage") or {})
        data = self._writer.chunk({"role": "assistant", "content": ""})
        return [StreamEvent(data=data, response_id=self._writer.response_id, response_model=self._writer.model)]

    def _on_content_block_start(self, event: dict[str, Any]) -> list[StreamEvent]:
        block = event.get("content_block") or {}
        if block.get("type") == "text" and block.get("text"):
            return [StreamEvent(data=self._writer.chunk({"content": block["text"]}), text=block["text"])]
        if block.get("type") != "tool_use":
            return []  # thinking and server-tool blocks are not part of the OpenAI chunk shape
        tool_index = len(self._tool_index)
        self._tool_index[int(event.get("index") or 0)] = tool_index
        call = {
            "index": tool_index,
            "id": block.get("id"),
            "type": "function",
            "function": {"name": block.get("name"), "arguments": ""},
        }
        return [StreamEvent(data=self._writer.chunk({"tool_calls": [call]}))]

    def _on_content_block_delta(self, event: dict[str, Any]) -> list[StreamEvent]:
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta":
            text = str(delta.get("text") or "")
            return [StreamEvent(data=self._writer.chunk({"content": text}), text=text)] if text else []
        if delta.get("type") == "input_json_delta":
            tool_index = self._tool_index.get(int(event.get("index") or 0))
            fragment = delta.get("partial_json") or ""
            if tool_index is None or not fragment:
                return []
            call = {"index": tool_index, "function": {"arguments": fragment}}
            return [StreamEvent(data=self._writer.chunk({"tool_calls": [call]}))]
        return []

    def _on_message_delta(self, event: dict[str, Any]) -> list[StreamEvent]:
        self._raw_usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        reason = (event.get("delta") or {}).get("stop_reason")
        if not reason:
            return []
        self._finish = STOP_REASONS.get(reason, "stop")
        return [StreamEvent(data=self._writer.chunk({}, finish_reason=self._finish), finish_reason=self._finish)]

    def _on_message_stop(self, event: dict[str, Any]) -> list[StreamEvent]:
        self._stopped = True
        usage = anthropic_usage(self._raw_usage)
        events = [StreamEvent(data=self._writer.usage_chunk(usage) if self._include_usage else b"", usage=usage)]
        events.append(StreamEvent(data=DONE_FRAME, done=True))
        return events
