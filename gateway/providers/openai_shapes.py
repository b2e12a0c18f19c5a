"""Builders of the OpenAI chat shapes (completion, chunk, usage, SSE frame) shared by translating adapters."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from gateway.providers.base import ProviderTarget, TokenUsage

_encoder = msgspec.json.Encoder()


def sse_frame(payload: Any) -> bytes:
    """One OpenAI SSE frame: `data: {json}` followed by a blank line."""
    return b"data: " + _encoder.encode(payload) + b"\n\n"


DONE_FRAME = b"data: [DONE]\n\n"


def usage_body(usage: TokenUsage) -> dict[str, Any]:
    """OpenAI `usage` object from normalised counts (input includes cached, output includes reasoning)."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "cache_creation_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def completion_body(
    *,
    response_id: str,
    model: str,
    choices: list[dict[str, Any]],
    usage: TokenUsage | None,
    created: int | None = None,
) -> bytes:
    """Encode an OpenAI `chat.completion` body."""
    body: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage_body(usage)
    return _encoder.encode(body)


def assistant_choice(
    index: int, text: str | None, tool_calls: list[dict[str, Any]], finish_reason: str | None
) -> dict[str, Any]:
    """One `choices[]` entry of a chat.completion."""
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish_reason}


class ChunkWriter:
    """Frames `chat.completion.chunk` SSE bytes for one response (id, model and created fixed once known)."""

    __slots__ = ("created", "model", "response_id")

    def __init__(self, response_id: str = "", model: str = "") -> None:
        self.response_id = response_id
        self.model = model
        self.created = int(time.time())

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, index: int = 0) -> bytes:
        """A chunk carrying one choice delta."""
        return sse_frame(
            {
                "id": self.response_id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
        )

    def usage_chunk(self, usage: TokenUsage) -> bytes:
        """The trailing usage chunk (`choices: []`) sent when the caller asked for include_usage."""
        return sse_frame(
            {
                "id": self.response_id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage_body(usage),
            }
        )


def scrub_secret(text: str, target: ProviderTarget) -> str:
    """Remove the target's credential from a message that will be shown or logged."""
    if target.api_key and target.api_key in text:
        return text.replace(target.api_key, "[redacted]")
    return text
