"""Anthropic Messages wire format: message objects, the named-event SSE stream, header checks, errors."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from gateway.simulator.content import Prompt, Reply, ToolSpec
from gateway.simulator.exchange import Frame, WireError

_STOP_REASON = {
    "stop": "end_turn",
    "length": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_calls": "tool_use",
    "safety": "refusal",
}
_ERROR_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _block_text(block: Any) -> str:
    if not isinstance(block, dict):
        return ""
    if block.get("type") == "text" and isinstance(block.get("text"), str):
        return block["text"]
    if block.get("type") == "tool_result":
        return _content_text(block.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_block_text(block) for block in content)
    return ""


def _event(name: str, payload: dict[str, Any], kind: Any) -> Frame:
    return Frame(b"event: " + name.encode() + b"\ndata: " + msgspec.json.encode(payload) + b"\n\n", kind)


def _message_id() -> str:
    return f"msg_01{uuid.uuid4().hex[:22]}"


class AnthropicWire:
    """Renders the Anthropic Messages API shapes."""

    def check_auth(self, headers: dict[str, str]) -> None:
        """Require a key (`x-api-key`, or `Authorization: Bearer` as newer SDKs send) and `anthropic-version`."""
        bearer = headers.get("authorization", "")
        if not headers.get("x-api-key") and not (bearer.lower().startswith("bearer ") and len(bearer) > 7):
            raise WireError(401, "x-api-key header is required")
        if not headers.get("anthropic-version"):
            raise WireError(400, "anthropic-version: header is required")

    def parse_messages(self, body: Any) -> Prompt:
        """Extract the behaviour-relevant facts from a Messages request."""
        if not isinstance(body, dict):
            raise WireError(400, "Request body must be a JSON object")
        for field in ("model", "messages", "max_tokens"):
            if field not in body:
                raise WireError(400, f"{field}: Field required")
        messages = body["messages"]
        if not isinstance(messages, list) or not isinstance(body["max_tokens"], int):
            raise WireError(400, "messages: Input should be a valid list; max_tokens: an integer")
        system = _content_text(body.get("system"))
        texts = ([system] if system else []) + [
            _content_text(message.get("content")) for message in messages if isinstance(message, dict)
        ]
        last_user = next(
            (
                _content_text(message.get("content"))
                for message in reversed(messages)
                if isinstance(message, dict) and message.get("role") == "user"
            ),
            "",
        )
        tools = [
            ToolSpec(name=tool["name"], parameters=tool.get("input_schema") or {})
            for tool in body.get("tools") or []
            if isinstance(tool, dict) and isinstance(tool.get("name"), str)
        ]
        choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {}
        choice_type = choice.get("type")
        stop = body.get("stop_sequences") or []
        return Prompt(
            model=str(body["model"]),
            texts=texts,
            last_user_text=last_user,
            seed_material=msgspec.json.encode([body.get("system"), messages]),
            tools=tools,
            tool_mode="required" if choice_type == "any" else ("none" if choice_type == "none" else "auto"),
            forced_tool=choice.get("name") if choice_type == "tool" else None,
            max_tokens=body["max_tokens"],
            stop=[s for s in stop if isinstance(s, str)],
            stream=body.get("stream") is True,
        )

    def _usage(self, reply: Reply) -> dict[str, Any]:
        return {
            "input_tokens": reply.prompt_tokens - reply.cached_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": reply.cached_tokens,
            "output_tokens": reply.completion_tokens + reply.reasoning_tokens,
            "service_tier": "standard",
        }

    def _content(self, reply: Reply) -> list[dict[str, Any]]:
        if reply.tool_calls:
            return [
                {
                    "type": "tool_use",
                    "id": f"toolu_01{call.call_key[:22]}",
                    "name": call.name,
                    "input": call.arguments,
                }
                for call in reply.tool_calls
            ]
        if reply.finish == "safety":
            return []
        return [{"type": "text", "text": reply.text}]

    def message_body(self, reply: Reply, prompt: Prompt) -> bytes:
        """A complete `message` object."""
        return msgspec.json.encode(
            {
                "id": _message_id(),
                "type": "message",
                "role": "assistant",
                "model": prompt.model,
                "content": self._content(reply),
                "stop_reason": _STOP_REASON[reply.finish],
                "stop_sequence": reply.stop_sequence,
                "usage": self._usage(reply),
            }
        )

    def message_frames(self, reply: Reply, prompt: Prompt) -> list[Frame]:
        """message_start, ping, content blocks (text / input_json deltas), message_delta, message_stop."""
        start_usage = {**self._usage(reply), "output_tokens": 1}
        message = {
            "id": _message_id(),
            "type": "message",
            "role": "assistant",
            "model": prompt.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": start_usage,
        }
        frames = [_event("message_start", {"type": "message_start", "message": message}, "head")]
        if reply.tool_calls:
            for index, call in enumerate(reply.tool_calls):
                block = {
                    "type": "tool_use",
                    "id": f"toolu_01{call.call_key[:22]}",
                    "name": call.name,
                    "input": {},
                }
                frames.append(
                    _event(
                        "content_block_start",
                        {"type": "content_block_start", "index": index, "content_block": block},
                        "head" if index == 0 else "content",
                    )
                )
                if index == 0:
                    frames.append(_event("ping", {"type": "ping"}, "head"))
                frames.extend(
                    _event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                        "content",
                    )
                    for piece in call.argument_pieces
                )
                frames.append(
                    _event(
                        "content_block_stop",
                        {"type": "content_block_stop", "index": index},
                        "content" if index < len(reply.tool_calls) - 1 else "tail",
                    )
                )
        elif reply.finish != "safety":
            block = {"type": "text", "text": ""}
            frames.append(
                _event(
                    "content_block_start",
                    {"type": "content_block_start", "index": 0, "content_block": block},
                    "head",
                )
            )
            frames.append(_event("ping", {"type": "ping"}, "head"))
            frames.extend(
                _event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                    "content",
                )
                for piece in reply.pieces
            )
            frames.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}, "tail"))
        delta = {"stop_reason": _STOP_REASON[reply.finish], "stop_sequence": reply.stop_sequence}
        usage = {"output_tokens": reply.completion_tokens + reply.reasoning_tokens}
        frames.append(_event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}, "tail"))
        frames.append(_event("message_stop", {"type": "message_stop"}, "tail"))
        return frames

    def error_body(self, status: int, message: str, error_type: str | None, param: str | None) -> bytes:
        """`{"type": "error", "error": {"type", "message"}}`."""
        kind = error_type or _ERROR_TYPE.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return msgspec.json.encode(
            {
                "type": "error",
                "error": {"type": kind, "message": message},
                "request_id": f"req_{uuid.uuid4().hex[:24]}",
            }
        )

    def error_frame(self, status: int, message: str, error_type: str | None) -> bytes:
        """The mid-stream `event: error`."""
        kind = error_type or _ERROR_TYPE.get(status, "api_error")
        payload = {"type": "error", "error": {"type": kind, "message": message}}
        return b"event: error\ndata: " + msgspec.json.encode(payload) + b"\n\n"
