"""Inbound Anthropic Messages translation: request → OpenAI body, completion → message, chunks → events, errors."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from gateway.errors import InvalidRequest, ProviderError, RateLimited
from gateway.inbound.anthropic_events import AnthropicEventEncoder, error_event
from gateway.inbound.anthropic_messages import anthropic_error, anthropic_message, openai_chat_body

EVENT_TYPES = {
    "message_start": anthropic.types.RawMessageStartEvent,
    "content_block_start": anthropic.types.RawContentBlockStartEvent,
    "content_block_delta": anthropic.types.RawContentBlockDeltaEvent,
    "content_block_stop": anthropic.types.RawContentBlockStopEvent,
    "message_delta": anthropic.types.RawMessageDeltaEvent,
    "message_stop": anthropic.types.RawMessageStopEvent,
}


def _events(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in data.decode().split("\n\n"):
        if not block:
            continue
        name_line, data_line = block.split("\n")
        name, payload = name_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))
        assert payload["type"] == name
        if name in EVENT_TYPES:
            EVENT_TYPES[name].model_validate(payload)
        out.append((name, payload))
    return out


def _sse(chunk: Any) -> bytes:
    return b"data: " + (chunk if isinstance(chunk, bytes) else json.dumps(chunk).encode()) + b"\n\n"


def test_request_translation_covers_system_images_tools_and_results() -> None:
    request = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "boom"}],
                        "is_error": True,
                    },
                    {"type": "text", "text": "Warmer?"},
                ],
            },
        ],
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 5,
        "metadata": {"user_id": "u-7"},
        "stream": True,
    }
    assert openai_chat_body(request) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "toolu_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: boom"},
            {"role": "user", "content": "Warmer?"},
        ],
        "temperature": 0.3,
        "top_p": 0.9,
        "stop": ["END"],
        "tools": [
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": {"type": "object"}, "description": "Weather"},
            }
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "user": "u-7",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}),
    ],
)
def test_tool_choice_forms(choice: dict[str, Any], expected: Any) -> None:
    request = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": choice,
    }
    assert openai_chat_body(request)["tool_choice"] == expected


@pytest.mark.parametrize(
    "bad",
    [
        {"model": "m", "messages": [{"role": "user", "content": "x"}]},
        {"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "audio"}]}]},
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        },
    ],
)
def test_invalid_requests_are_400(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        openai_chat_body(bad)


def test_completion_becomes_a_valid_anthropic_message() -> None:
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "Let me check.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 9,
            "total_tokens": 129,
            "prompt_tokens_details": {"cached_tokens": 100},
        },
    }
    message = anthropic.types.Message.model_validate_json(anthropic_message(json.dumps(completion).encode()))
    assert message.stop_reason == "tool_use"
    assert message.content[0].type == "text" and message.content[0].text == "Let me check."
    assert message.content[1].type == "tool_use" and message.content[1].input == {"city": "Paris"}
    assert message.usage.input_tokens == 20 and message.usage.cache_read_input_tokens == 100
    assert message.usage.output_tokens == 9


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
    ],
)
def test_finish_reasons_map_to_stop_reasons(finish: str, stop_reason: str) -> None:
    completion = {
        "id": "c",
        "model": "m",
        "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": "x"}}],
    }
    assert json.loads(anthropic_message(json.dumps(completion).encode()))["stop_reason"] == stop_reason


def test_chunk_stream_becomes_anthropic_events() -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-9",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    stream = b"".join(
        [
            _sse(chunk({"role": "assistant", "content": ""})),
            _sse(chunk({"content": "Hel"})),
            _sse(chunk({"content": "lo"})),
            _sse(
                chunk(
                    {
                        "tool_calls": [
                            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
                        ]
                    }
                )
            ),
            _sse(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]})),
            _sse(chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]})),
            _sse(chunk({}, "tool_calls")),
            _sse(
                {
                    "id": "chatcmpl-9",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": "gpt-4o",
                    "choices": [],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                }
            ),
            _sse(b"[DONE]"),
        ]
    )
    encoder = AnthropicEventEncoder(model="gpt-4o")
    out = b"".join(encoder.feed(stream[i : i + 5]) for i in range(0, len(stream), 5)) + encoder.close()
    events = _events(out)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[5][1]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "f", "input": {}}
    partial = "".join(p["delta"].get("partial_json", "") for n, p in events if n == "content_block_delta")
    assert json.loads(partial) == {"a": 1}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"]["input_tokens"] == 11 and events[-2][1]["usage"]["output_tokens"] == 7


def test_stream_without_done_still_finishes_once() -> None:
    encoder = AnthropicEventEncoder(model="m")
    first = encoder.feed(_sse({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}}]}))
    names = [n for n, _ in _events(first + encoder.close() + encoder.close())]
    assert names.count("message_stop") == 1 and names[-1] == "message_stop"


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (InvalidRequest("bad", param="x"), 400, "invalid_request_error"),
        (RateLimited("slow down"), 429, "rate_limit_error"),
        (ProviderError("overloaded", provider="p", status=529), 529, "overloaded_error"),
        (ProviderError("down", provider="p", status=503), 503, "api_error"),
        (ProviderError("teapot", provider="p", status=418), 418, "invalid_request_error"),
    ],
)
def test_errors_use_the_anthropic_shape(error: Any, status: int, kind: str) -> None:
    got_status, body = anthropic_error(error)
    assert got_status == status
    assert json.loads(body) == {"type": "error", "error": {"type": kind, "message": error.message}}
    name, payload = _events(error_event(error))[0]
    assert name == "error" and payload["error"]["type"] == kind
