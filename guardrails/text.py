"""The one place that finds checkable text in chat request/response bodies and writes redactions back."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec

from schemas.chat import JsonObject
from schemas.guardrails import Stage, TextScope

PathPart = str | int


class TextSegment(msgspec.Struct, kw_only=True, frozen=True):
    """Checkable text and where it lives: `path` into the body, then `json_path` inside a JSON string."""

    path: tuple[PathPart, ...]
    text: str
    json_path: tuple[PathPart, ...] | None = (
        None  # set when the text is a value inside JSON-encoded arguments
    )

    def label(self) -> str:
        """Printable location, e.g. messages[3].tool_calls[0].function.arguments$.card (no text)."""
        out = _render_path(self.path)
        if self.json_path is not None:
            out += "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.json_path)
        return out


class TextEdit(msgspec.Struct, kw_only=True, frozen=True):
    """Replace text[start:end] of one segment with `replacement`."""

    start: int
    end: int
    replacement: str


def _render_path(path: Sequence[PathPart]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _json_leaves(value: Any, prefix: tuple[PathPart, ...]) -> Iterator[tuple[tuple[PathPart, ...], str]]:
    if isinstance(value, str):
        yield prefix, value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        yield prefix, json.dumps(value)  # a card number sent as a JSON number is still a card number
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _json_leaves(item, (*prefix, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_leaves(item, (*prefix, index))


def _arguments_segments(arguments: Any, path: tuple[PathPart, ...]) -> Iterator[TextSegment]:
    if not isinstance(arguments, str) or not arguments:
        return
    try:
        decoded = json.loads(arguments)
    except ValueError:
        yield TextSegment(path=path, text=arguments)  # partial or invalid JSON: check the raw string
        return
    if not isinstance(decoded, dict | list):
        yield TextSegment(path=path, text=arguments)
        return
    for json_path, text in _json_leaves(decoded, ()):
        if text:
            yield TextSegment(path=path, text=text, json_path=json_path)


def _content_segments(content: Any, path: tuple[PathPart, ...]) -> Iterator[TextSegment]:
    if isinstance(content, str):
        if content:
            yield TextSegment(path=path, text=content)
    elif isinstance(content, list):
        for index, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                yield TextSegment(path=(*path, index, "text"), text=part["text"])


def _message_segments(message: Any, path: tuple[PathPart, ...]) -> Iterator[TextSegment]:
    if not isinstance(message, dict):
        return
    yield from _content_segments(message.get("content"), (*path, "content"))
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        yield TextSegment(path=(*path, "refusal"), text=message["refusal"])
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list):
        for index, call in enumerate(tool_calls):
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                yield from _arguments_segments(
                    function.get("arguments"), (*path, "tool_calls", index, "function", "arguments")
                )
    function_call = message.get("function_call")  # legacy single function call
    if isinstance(function_call, dict):
        yield from _arguments_segments(function_call.get("arguments"), (*path, "function_call", "arguments"))


def _prompt_segments(body: JsonObject, key: str) -> Iterator[TextSegment]:
    value = body.get(key)
    if isinstance(value, str) and value:
        yield TextSegment(path=(key,), text=value)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and item:
                yield TextSegment(path=(key, index), text=item)


def input_segments(body: JsonObject, scope: TextScope = "all") -> list[TextSegment]:
    """Text of a chat request (every message shape), or of a completions `prompt` / embeddings `input`."""
    messages = body.get("messages")
    if isinstance(messages, list):
        indexes = range(len(messages))
        if scope == "last_message":
            indexes = range(max(0, len(messages) - 1), len(messages))
        return [seg for i in indexes for seg in _message_segments(messages[i], ("messages", i))]
    return [*_prompt_segments(body, "prompt"), *_prompt_segments(body, "input")]


def output_segments(body: JsonObject) -> list[TextSegment]:
    """Text of a chat completion: every choice's message content, refusal and tool-call arguments."""
    choices = body.get("choices")
    segments: list[TextSegment] = []
    if not isinstance(choices, list):
        return segments
    for index, choice in enumerate(choices):
        if not isinstance(choice, dict):
            continue
        if isinstance(choice.get("text"), str) and choice["text"]:  # legacy completions
            segments.append(TextSegment(path=("choices", index, "text"), text=choice["text"]))
        segments.extend(_message_segments(choice.get("message"), ("choices", index, "message")))
    return segments


def extract_segments(body: JsonObject, stage: Stage, scope: TextScope = "all") -> list[TextSegment]:
    """All checkable text of a body for the given stage."""
    return input_segments(body, scope) if stage == "input" else output_segments(body)


def apply_text_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """Apply non-overlapping edits (any order) to one text."""
    out = text
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        out = out[: edit.start] + edit.replacement + out[edit.end :]
    return out


def _get(container: Any, path: Sequence[PathPart]) -> Any:
    for part in path:
        container = container[part]
    return container


def _set(container: Any, path: Sequence[PathPart], value: Any) -> None:
    _get(container, path[:-1])[path[-1]] = value


def apply_replacements(body: JsonObject, replacements: Sequence[tuple[TextSegment, str]]) -> JsonObject:
    """Return a deep copy of `body` with each segment's text replaced; JSON arguments stay valid JSON."""
    out = copy.deepcopy(body)
    decoded_arguments: dict[tuple[PathPart, ...], Any] = {}
    for segment, new_text in replacements:
        if segment.json_path is None:
            _set(out, segment.path, new_text)
            continue
        if segment.path not in decoded_arguments:
            decoded_arguments[segment.path] = json.loads(_get(out, segment.path))
        document = decoded_arguments[segment.path]
        if segment.json_path == ():
            decoded_arguments[segment.path] = new_text
        else:
            _set(document, segment.json_path, new_text)
    for path, document in decoded_arguments.items():
        _set(out, path, json.dumps(document, ensure_ascii=False))
    return out


def joined_text(segments: Sequence[TextSegment]) -> str:
    """All segment texts joined by blank lines (for whole-text checks such as length)."""
    return "\n\n".join(segment.text for segment in segments)
