"""Opt-in message content on spans: gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from gateway.telemetry.semconv import INPUT_MESSAGES, OUTPUT_MESSAGES, SYSTEM_INSTRUCTIONS, Attrs

_CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CAPTURE_ON = frozenset({"true", "1", "yes", "span_only", "span_and_event"})
_CAPTURE_OFF = frozenset({"false", "0", "no", "no_content", "event_only"})
_json_encode = msgspec.json.Encoder().encode


def content_capture_enabled(environ: Mapping[str, str], setting: bool) -> bool:
    """Whether message content goes on spans: the OTel env var wins (true/SPAN_ONLY/SPAN_AND_EVENT), else settings."""
    raw = environ.get(_CAPTURE_ENV, "").strip().lower()
    if raw in _CAPTURE_ON:
        return True
    if raw in _CAPTURE_OFF:
        return False
    return setting


def _parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    if isinstance(content, list):
        for item in content:
            if not isinstance(item, Mapping):
                continue
            kind = item.get("type")
            if kind == "text":
                parts.append({"type": "text", "content": item.get("text", "")})
            elif kind == "image_url":
                url = (item.get("image_url") or {}).get("url", "")
                uri = "[inline data]" if isinstance(url, str) and url.startswith("data:") else url
                parts.append({"type": "uri", "modality": "image", "uri": uri})
            else:
                parts.append({"type": str(kind)})
    return parts


def _message(message: Mapping[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    role = message.get("role", "user")
    if role == "tool":
        parts = [{"type": "tool_call_response", "id": message.get("tool_call_id"),
                  "response": message.get("content")}]
    else:
        parts = _parts(message.get("content"))
    for call in message.get("tool_calls") or ():
        if isinstance(call, Mapping):
            function = call.get("function") or {}
            parts.append({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                          "arguments": function.get("arguments")})
    out: dict[str, Any] = {"role": role, "parts": parts}
    if finish_reason is not None:
        out["finish_reason"] = finish_reason
    return out


def _json_text(value: Any, scrub: Callable[[str], str] | None) -> str:
    text = _json_encode(value).decode()
    return scrub(text) if scrub is not None else text


def input_content_attributes(
    messages: Sequence[Any], scrub: Callable[[str], str] | None = None
) -> Attrs:
    """gen_ai.system_instructions + gen_ai.input.messages as JSON strings, from OpenAI chat messages.

    Call only when content capture is on; pass the redactor's scrub so known secrets never reach a span.
    """
    system: list[dict[str, Any]] = []
    chat: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        if message.get("role") in ("system", "developer"):
            system.extend(_parts(message.get("content")))
        else:
            chat.append(_message(message))
    attrs: Attrs = {INPUT_MESSAGES: _json_text(chat, scrub)}
    if system:
        attrs[SYSTEM_INSTRUCTIONS] = _json_text(system, scrub)
    return attrs


def output_content_attributes(
    choices: Sequence[Any], scrub: Callable[[str], str] | None = None
) -> Attrs:
    """gen_ai.output.messages as a JSON string, from OpenAI chat.completion choices."""
    out = [
        _message(choice.get("message") or {"role": "assistant"}, choice.get("finish_reason") or "")
        for choice in choices
        if isinstance(choice, Mapping)
    ]
    return {OUTPUT_MESSAGES: _json_text(out, scrub)}
