"""OpenAI (and Azure OpenAI) wire format: chat completions, SSE chunks, embeddings, models, errors."""

from __future__ import annotations

import array
import base64
import sys
import time
import uuid
from typing import Any

import msgspec

from gateway.simulator.content import Prompt, Reply, ToolSpec, count_words, embedding_vector
from gateway.simulator.exchange import Frame, WireError

_FINISH = {
    "stop": "stop",
    "length": "length",
    "stop_sequence": "stop",
    "tool_calls": "tool_calls",
    "safety": "content_filter",
}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "") for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _tools(body: dict[str, Any]) -> list[ToolSpec]:
    tools = []
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            tools.append(ToolSpec(name=function["name"], parameters=function.get("parameters") or {}))
    return tools


def _error_type(status: int) -> tuple[str, str | None]:
    if status == 401:
        return "invalid_request_error", "invalid_api_key"
    if status == 404:
        return "invalid_request_error", "model_not_found"
    if status == 429:
        return "requests", "rate_limit_exceeded"
    if status >= 500:
        return "server_error", None
    return "invalid_request_error", None


class OpenAIWire:
    """Renders the OpenAI Chat Completions / Embeddings shapes."""

    def check_auth(self, headers: dict[str, str], azure: bool, query: dict[str, list[str]]) -> None:
        """Require a bearer key (or Azure's `api-key` header and `api-version` query) like the real API."""
        if azure and not query.get("api-version"):
            raise WireError(404, "Resource not found", "invalid_request_error")
        authorization = headers.get("authorization", "")
        has_bearer = authorization.lower().startswith("bearer ") and len(authorization) > 7
        if not (has_bearer or (azure and headers.get("api-key"))):
            raise WireError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )

    def parse_chat(self, body: Any, deployment: str | None) -> Prompt:
        """Extract the behaviour-relevant facts from a chat completion request."""
        if not isinstance(body, dict):
            raise WireError(400, "We could not parse the JSON body of your request.")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise WireError(400, "Missing required parameter: 'messages'.", param="messages")
        model = deployment or body.get("model")
        if not isinstance(model, str) or not model:
            raise WireError(400, "you must provide a model parameter", param="model")
        texts = [_text_of(message.get("content")) for message in messages if isinstance(message, dict)]
        last_user = next(
            (
                _text_of(message.get("content"))
                for message in reversed(messages)
                if isinstance(message, dict) and message.get("role") == "user"
            ),
            "",
        )
        choice = body.get("tool_choice")
        forced = None
        mode = "auto"
        if choice in ("none", "required"):
            mode = choice
        elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
            forced = choice["function"].get("name")
        stop = body.get("stop")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        stream_options = body.get("stream_options") or {}
        return Prompt(
            model=model,
            texts=texts,
            last_user_text=last_user,
            seed_material=msgspec.json.encode(messages),
            tools=_tools(body),
            tool_mode=mode,
            forced_tool=forced,
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
            stop=[stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)],
            seed=body.get("seed") if isinstance(body.get("seed"), int) else None,
            stream=body.get("stream") is True,
            include_usage=isinstance(stream_options, dict) and stream_options.get("include_usage") is True,
        )

    def _usage(self, reply: Reply) -> dict[str, Any]:
        completion = reply.completion_tokens + reply.reasoning_tokens
        return {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": reply.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reply.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _tool_call(self, call: Any) -> dict[str, Any]:
        return {
            "id": f"call_{call.call_key[:24]}",
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json},
        }

    def chat_body(self, reply: Reply, prompt: Prompt) -> bytes:
        """A complete `chat.completion` object."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if reply.tool_calls or reply.finish == "safety" else reply.text,
            "refusal": None,
            "annotations": [],
        }
        if reply.tool_calls:
            message["tool_calls"] = [self._tool_call(call) for call in reply.tool_calls]
        return msgspec.json.encode(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": prompt.model,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _FINISH[reply.finish]}],
                "usage": self._usage(reply),
                "service_tier": "default",
                "system_fingerprint": "fp_simulator",
            }
        )

    def chat_frames(self, reply: Reply, prompt: Prompt) -> list[Frame]:
        """The `chat.completion.chunk` SSE stream: role, one chunk per token, finish, usage, [DONE]."""
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": prompt.model,
            "service_tier": "default",
            "system_fingerprint": "fp_simulator",
        }
        if prompt.include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any], finish: str | None, kind: Any) -> Frame:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return Frame(b"data: " + msgspec.json.encode({**base, "choices": [choice]}) + b"\n\n", kind)

        frames: list[Frame] = []
        if reply.tool_calls:
            for index, call in enumerate(reply.tool_calls):
                header = {"index": index, **self._tool_call(call)}
                header["function"] = {"name": call.name, "arguments": ""}
                delta = {"role": "assistant", "content": None} if index == 0 else {}
                frames.append(chunk({**delta, "tool_calls": [header]}, None, "content"))
                frames.extend(
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, None, "content")
                    for piece in call.argument_pieces
                )
        else:
            frames.append(chunk({"role": "assistant", "content": "", "refusal": None}, None, "head"))
            frames.extend(chunk({"content": piece}, None, "content") for piece in reply.pieces)
        frames.append(chunk({}, _FINISH[reply.finish], "tail"))
        if prompt.include_usage:
            usage_chunk = {**base, "choices": [], "usage": self._usage(reply)}
            frames.append(Frame(b"data: " + msgspec.json.encode(usage_chunk) + b"\n\n", "tail"))
        frames.append(Frame(b"data: [DONE]\n\n", "tail"))
        return frames

    def error_body(self, status: int, message: str, error_type: str | None, param: str | None) -> bytes:
        """`{"error": {"message", "type", "param", "code"}}`."""
        default_type, code = _error_type(status)
        return msgspec.json.encode(
            {"error": {"message": message, "type": error_type or default_type, "param": param, "code": code}}
        )

    def error_frame(self, status: int, message: str, error_type: str | None) -> bytes:
        """The error object as an SSE data line, as OpenAI sends when a stream fails mid-way."""
        return b"data: " + self.error_body(status, message, error_type, None) + b"\n\n"

    def embeddings_body(self, body: Any, deployment: str | None, default_dimensions: int, seed: int) -> bytes:
        """An embeddings `list` with deterministic vectors (float or base64 as requested)."""
        if not isinstance(body, dict) or "input" not in body:
            raise WireError(400, "Missing required parameter: 'input'.", param="input")
        model = deployment or body.get("model")
        if not isinstance(model, str) or not model:
            raise WireError(400, "you must provide a model parameter", param="model")
        raw = body["input"]
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            raise WireError(400, "'input' must be a non-empty string or array.", param="input")
        dimensions = body.get("dimensions") if isinstance(body.get("dimensions"), int) else default_dimensions
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        tokens = 0
        for index, item in enumerate(raw):
            text = item if isinstance(item, str) else str(item)
            tokens += count_words([item]) if isinstance(item, str) else max(1, len(item))
            vector = embedding_vector(text, dimensions, seed)
            embedding: Any = vector
            if as_base64:
                packed = array.array("f", vector)
                if sys.byteorder != "little":
                    packed.byteswap()
                embedding = base64.b64encode(packed.tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return msgspec.json.encode(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    def models_body(self, models: tuple[str, ...]) -> bytes:
        """`GET /v1/models`."""
        return msgspec.json.encode(
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": 1700000000, "owned_by": "simulator"} for name in models
                ],
            }
        )
