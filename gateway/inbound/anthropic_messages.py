"""Inbound Anthropic Messages format: request → OpenAI chat body, completion → message, errors → Anthropic."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from gateway.errors import GatewayError, InvalidRequest

# OpenAI finish_reason → Anthropic stop_reason.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# HTTP status → Anthropic error type (its documented table; other 4xx are invalid_request_error).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

_encoder = msgspec.json.Encoder()
_json = msgspec.json.Decoder()


def _source_url(source: Any, param: str) -> str:
    if not isinstance(source, dict):
        raise InvalidRequest(f"{param}: source is required", param=param)
    if source.get("type") == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return source["url"]
    raise InvalidRequest(f"{param}: source type {source.get('type')!r} is not supported", param=param)


def _text_of_blocks(content: Any, param: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text") or "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    if content is None:
        return ""
    raise InvalidRequest(f"{param}: content must be a string or a list of blocks", param=param)


def _user_messages(content: Any, param: str) -> list[dict[str, Any]]:
    """A user turn → tool messages (one per tool_result, first) then one user message for the rest."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"{param}: content must be a string or a list of blocks", param=param)
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        where = f"{param}.content[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _source_url(block.get("source"), where)}})
        elif kind == "document":
            parts.append({"type": "file", "file": {"file_data": _source_url(block.get("source"), where)}})
        elif kind == "tool_result":
            text = _text_of_blocks(block.get("content"), where)
            if block.get("is_error"):
                text = f"Error: {text}"
            tools.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
        else:
            raise InvalidRequest(f"{where}: block type {kind!r} is not supported", param=where)
    messages = list(tools)
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        content_out: Any = "".join(p["text"] for p in parts) if only_text and len(parts) == 1 else parts
        messages.append({"role": "user", "content": content_out})
    return messages


def _assistant_message(content: Any, param: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        raise InvalidRequest(f"{param}: content must be a string or a list of blocks", param=param)
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {})
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": arguments},
                }
            )
        # thinking / redacted_thinking blocks have no OpenAI equivalent and are left out
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom") or "input_schema" not in tool:
            raise InvalidRequest(f"tools[{i}]: only client tools with input_schema are supported", param=f"tools[{i}]")
        function: dict[str, Any] = {"name": tool.get("name"), "parameters": tool["input_schema"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: dict[str, Any]) -> tuple[Any, bool | None]:
    kind = choice.get("type")
    parallel = False if choice.get("disable_parallel_tool_use") else None
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", None
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}, parallel
    raise InvalidRequest(f"tool_choice: type {kind!r} is not supported", param="tool_choice")


def openai_chat_body(request: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages request body → the equivalent OpenAI chat body."""
    if not isinstance(request.get("messages"), list):
        raise InvalidRequest("messages must be a list", param="messages")
    if not isinstance(request.get("max_tokens"), int):
        raise InvalidRequest("max_tokens is required", param="max_tokens")
    messages: list[dict[str, Any]] = []
    system = _text_of_blocks(request.get("system"), "system")
    if system:
        messages.append({"role": "system", "content": system})
    for i, turn in enumerate(request["messages"]):
        param = f"messages[{i}]"
        role = turn.get("role") if isinstance(turn, dict) else None
        if role == "user":
            messages.extend(_user_messages(turn.get("content"), param))
        elif role == "assistant":
            messages.append(_assistant_message(turn.get("content"), param))
        else:
            raise InvalidRequest(f"{param}: role must be user or assistant", param=param)
    body: dict[str, Any] = {
        "model": request.get("model"),
        "messages": messages,
        "max_tokens": request["max_tokens"],
    }
    for name in ("temperature", "top_p"):
        if request.get(name) is not None:
            body[name] = request[name]
    if request.get("stop_sequences"):
        body["stop"] = list(request["stop_sequences"])
    if request.get("tools"):
        body["tools"] = _tools(request["tools"])
    if isinstance(request.get("tool_choice"), dict) and body.get("tools"):
        body["tool_choice"], parallel = _tool_choice(request["tool_choice"])
        if parallel is False:
            body["parallel_tool_calls"] = False
    user_id = (request.get("metadata") or {}).get("user_id")
    if user_id:
        body["user"] = str(user_id)
    if request.get("stream"):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def anthropic_usage(usage: Any) -> dict[str, int]:
    """OpenAI usage → Anthropic usage (Anthropic's input_tokens exclude cache reads and writes)."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    written = int(details.get("cache_creation_tokens") or 0)
    return {
        "input_tokens": max(0, int(usage.get("prompt_tokens") or 0) - cached - written),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
    }


def anthropic_message(completion: bytes) -> bytes:
    """An OpenAI chat.completion body → an Anthropic message body (first choice)."""
    body = _json.decode(completion)
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = {"_raw": function.get("arguments")}
        content.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": arguments})
    return _encoder.encode(
        {
            "id": body.get("id") or "",
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or "",
            "content": content,
            "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"),
            "stop_sequence": None,
            "usage": anthropic_usage(body.get("usage")),
        }
    )


def anthropic_error_type(status: int) -> str:
    """The Anthropic error type for an HTTP status."""
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def anthropic_error(exc: GatewayError) -> tuple[int, bytes]:
    """A gateway error → (status, `{"type":"error","error":{"type","message"}}`)."""
    status = exc.http_status
    payload = {"type": "error", "error": {"type": anthropic_error_type(status), "message": exc.message}}
    return status, _encoder.encode(payload)
