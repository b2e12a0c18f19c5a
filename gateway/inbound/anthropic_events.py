"""Re-encode the gateway's OpenAI chunk stream as Anthropic Messages SSE events for `/v1/messages` callers."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.errors import GatewayError
from gateway.inbound.anthropic_messages import STOP_REASONS, anthropic_error_type, anthropic_usage
from gateway.providers.sse import SSEParser

_encoder = msgspec.json.Encoder()
_json = msgspec.json.Decoder()


def event_frame(name: str, payload: dict[str, Any]) -> bytes:
    """One Anthropic SSE event: `event: <name>` + `data: <json>`."""
    return b"event: " + name.encode() + b"\ndata: " + _encoder.encode(payload) + b"\n\n"


def error_event(exc: GatewayError) -> bytes:
    """A terminal `error` event for a failure after the stream started."""
    error = {"type": anthropic_error_type(exc.http_status), "message": exc.message}
    return event_frame("error", {"type": "error", "error": error})


class AnthropicEventEncoder:
    """Feed OpenAI `chat.completion.chunk` SSE bytes, get Anthropic events (message_start … message_stop)."""

    __slots__ = (
        "_block",
        "_block_kind",
        "_blocks",
        "_finished",
        "_model",
        "_parser",
        "_started",
        "_stop_reason",
        "_tool_blocks",
        "_usage",
    )

    def __init__(self, model: str = "") -> None:
        self._parser = SSEParser()
        self._model = model
        self._started = False
        self._finished = False
        self._blocks = 0  # blocks opened so far (next block index)
        self._block: int | None = None  # the open block's index
        self._block_kind = ""
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool_calls index → Anthropic block index
        self._stop_reason = "end_turn"
        self._usage: dict[str, Any] | None = None

    def feed(self, data: bytes) -> bytes:
        """Translate OpenAI SSE bytes (any chunking) into Anthropic SSE bytes."""
        out = bytearray()
        for message in self._parser.feed(data):
            out += self._translate(message.data)
        return bytes(out)

    def close(self) -> bytes:
        """End of the OpenAI stream: finish the message if [DONE] did not already."""
        out = bytearray()
        for message in self._parser.close():
            out += self._translate(message.data)
        out += self._finish()
        return bytes(out)

    def _translate(self, data: bytes) -> bytes:
        if data == b"[DONE]":
            return self._finish()
        chunk = _json.decode(data)
        if not isinstance(chunk, dict):
            return b""
        if "error" in chunk and "choices" not in chunk:
            return self._error(chunk["error"] if isinstance(chunk["error"], dict) else {})
        out = bytearray(self._start(chunk) if not self._started else b"")
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if int(choice.get("index") or 0) != 0:
                continue  # Anthropic messages carry one choice
            delta = choice.get("delta") or {}
            if delta.get("content"):
                out += self._text(delta["content"])
            for call in delta.get("tool_calls") or ():
                out += self._tool(call)
            if choice.get("finish_reason"):
                self._stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
        return bytes(out)

    def _start(self, chunk: dict[str, Any]) -> bytes:
        self._started = True
        message = {
            "id": chunk.get("id") or "",
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model") or self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return event_frame("message_start", {"type": "message_start", "message": message})

    def _open(self, kind: str, content_block: dict[str, Any]) -> bytes:
        out = self._close_block()
        self._block, self._block_kind = self._blocks, kind
        self._blocks += 1
        payload = {"type": "content_block_start", "index": self._block, "content_block": content_block}
        return out + event_frame("content_block_start", payload)

    def _close_block(self) -> bytes:
        if self._block is None:
            return b""
        index, self._block = self._block, None
        return event_frame("content_block_stop", {"type": "content_block_stop", "index": index})

    def _text(self, text: str) -> bytes:
        out = self._open("text", {"type": "text", "text": ""}) if self._block_kind != "text" else b""
        delta = {
            "type": "content_block_delta",
            "index": self._block,
            "delta": {"type": "text_delta", "text": text},
        }
        return out + event_frame("content_block_delta", delta)

    def _tool(self, call: dict[str, Any]) -> bytes:
        out = b""
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        if position not in self._tool_blocks:
            block = {
                "type": "tool_use",
                "id": call.get("id") or "",
                "name": function.get("name") or "",
                "input": {},
            }
            out = self._open("tool_use", block)
            self._tool_blocks[position] = self._block if self._block is not None else 0
        fragment = function.get("arguments")
        if fragment:
            delta = {"type": "input_json_delta", "partial_json": fragment}
            payload = {"type": "content_block_delta", "index": self._tool_blocks[position], "delta": delta}
            out += event_frame("content_block_delta", payload)
        return out

    def _error(self, error: dict[str, Any]) -> bytes:
        """The gateway's terminal OpenAI error event becomes Anthropic's `error` event; nothing follows it."""
        self._finished = True
        status = {"timeout": 504, "stream_error": 502, "rate_limit_error": 429}.get(str(error.get("type")), 500)
        payload = {"type": anthropic_error_type(status), "message": str(error.get("message") or "stream failed")}
        return event_frame("error", {"type": "error", "error": payload})

    def _finish(self) -> bytes:
        if self._finished:
            return b""
        self._finished = True
        out = bytearray(self._start({}) if not self._started else b"")
        out += self._close_block()
        usage = anthropic_usage(self._usage)
        delta = {"stop_reason": self._stop_reason, "stop_sequence": None}
        out += event_frame("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
        out += event_frame("message_stop", {"type": "message_stop"})
        return bytes(out)
