"""OpenAI chat-completions wire types: the validated view of a request and the response shapes."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

# The request body as the caller sent it, decoded once; forwarded with unknown fields intact.
JsonObject = dict[str, Any]


class ImageUrl(msgspec.Struct, kw_only=True):
    """An image reference inside a content part (URL or data: URI)."""

    url: str
    detail: str | None = None


class ContentPart(msgspec.Struct, kw_only=True):
    """One part of a multi-part message content array."""

    type: str
    text: str | None = None
    image_url: ImageUrl | None = None


class FunctionCall(msgspec.Struct, kw_only=True):
    """The function a tool call invokes, with JSON-encoded arguments."""

    name: str | None = None
    arguments: str | None = None


class ToolCall(msgspec.Struct, kw_only=True):
    """A tool call emitted by the assistant."""

    id: str | None = None
    type: str = "function"
    function: FunctionCall | None = None


class Message(msgspec.Struct, kw_only=True):
    """One chat message in any role; content may be text, parts or null."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


class StreamOptions(msgspec.Struct, kw_only=True):
    """Options for streamed responses."""

    include_usage: bool | None = None


class ChatRequest(msgspec.Struct, kw_only=True):
    """The fields of a chat request the gateway reads; unknown fields are tolerated and kept in the body."""

    model: str
    messages: list[Message]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    user: str | None = None


class Usage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Token usage normalised across providers (OpenAI field names plus detail buckets)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: dict[str, int] | None = None
    completion_tokens_details: dict[str, int] | None = None


class CompletionSummary(msgspec.Struct, kw_only=True):
    """What the gateway reads back from an OpenAI-shaped completion or chunk (tolerant)."""

    id: str | None = None
    model: str | None = None
    choices: list[Any] = msgspec.field(default_factory=list)
    usage: Usage | None = None
