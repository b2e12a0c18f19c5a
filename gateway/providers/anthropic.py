"""Anthropic Messages API adapter: OpenAI chat in, Anthropic on the wire, OpenAI chat and chunks out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from gateway.errors import InvalidRequest, ProviderError
from gateway.providers.anthropic_request import anthropic_body
from gateway.providers.anthropic_stream import STOP_REASONS, AnthropicStreamDecoder, anthropic_usage
from gateway.providers.base import ChatResult, EmbeddingsResult, ProviderTarget, UpstreamRequest
from gateway.providers.openai_shapes import assistant_choice, completion_body, scrub_secret
from gateway.providers.retry_after import retry_after_seconds
from schemas.chat import JsonObject

API_VERSION = "2023-06-01"

# Anthropic's documented error types and the HTTP status each comes with.
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}

_encoder = msgspec.json.Encoder()
_json = msgspec.json.Decoder()


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {"name": block.get("name"), "arguments": json.dumps(block.get("input") or {})},
    }


class Anthropic:
    """Translating adapter for `POST /v1/messages`."""

    id = "anthropic"
    otel_name = "anthropic"
    default_base_url = "https://api.anthropic.com"

    def headers(self, target: ProviderTarget) -> dict[str, str]:
        """Content type, `x-api-key`, `anthropic-version`, then operator extras (e.g. anthropic-beta)."""
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": API_VERSION,
        }
        if target.api_key:
            headers["x-api-key"] = target.api_key
        headers.update(target.extra_headers)
        return headers

    def chat_request(self, body: JsonObject, target: ProviderTarget, *, stream: bool) -> UpstreamRequest:
        """Build `POST {base}/v1/messages`."""
        content = _encoder.encode(anthropic_body(body, target, stream=stream))
        url = target.base_url.rstrip("/") + "/v1/messages"
        return UpstreamRequest(url=url, headers=self.headers(target), content=content)

    def chat_response(self, content: bytes, target: ProviderTarget) -> ChatResult:
        """Anthropic message → OpenAI chat.completion (text joined, tool_use → tool_calls)."""
        try:
            message = _json.decode(content)
        except msgspec.DecodeError as exc:
            raise ProviderError(
                f"{target.name} returned an invalid response body", provider=target.name, status=502
            ) from exc
        if not isinstance(message, dict) or message.get("type") != "message":
            raise ProviderError(f"{target.name} returned an unexpected response body", provider=target.name, status=502)
        blocks = [b for b in message.get("content") or () if isinstance(b, dict)]
        texts = [str(b.get("text") or "") for b in blocks if b.get("type") == "text"]
        tool_calls = [_tool_call(b) for b in blocks if b.get("type") == "tool_use"]
        finish = STOP_REASONS.get(str(message.get("stop_reason")), "stop")
        usage = anthropic_usage(message.get("usage"))
        response_id, model = str(message.get("id") or ""), str(message.get("model") or target.model)
        choice = assistant_choice(0, "".join(texts) if texts else None, tool_calls, finish)
        body = completion_body(response_id=response_id, model=model, choices=[choice], usage=usage)
        return ChatResult(
            body=body, response_id=response_id, response_model=model, finish_reasons=[finish], usage=usage
        )

    def chat_stream(self, target: ProviderTarget, *, include_usage: bool) -> AnthropicStreamDecoder:
        """Decoder from Anthropic SSE events to OpenAI chunks."""
        return AnthropicStreamDecoder(target.name, include_usage=include_usage)

    def error(self, status: int, content: bytes, headers: Mapping[str, str], target: ProviderTarget) -> ProviderError:
        """`{"type":"error","error":{"type","message"}}` → ProviderError (status kept, Retry-After kept)."""
        error_type, message = None, ""
        try:
            envelope = _json.decode(content)
            error = envelope.get("error") if isinstance(envelope, dict) else None
            if isinstance(error, dict):
                error_type = str(error.get("type")) if error.get("type") else None
                message = str(error.get("message") or "")
        except msgspec.DecodeError:
            message = content[:200].decode("utf-8", "replace").strip()
        if status < 400:
            status = ERROR_STATUS.get(error_type or "", 502)
        message = scrub_secret(message or f"HTTP {status}", target)
        return ProviderError(
            f"{target.name} error: {message}",
            provider=target.name,
            status=status,
            error_type=error_type,
            retry_after_s=retry_after_seconds(headers),
            code=error_type,
        )

    def embeddings_request(self, body: JsonObject, target: ProviderTarget) -> UpstreamRequest:
        """Anthropic has no embeddings endpoint."""
        raise InvalidRequest(f"provider {target.name} (anthropic) does not offer embeddings", param="model")

    def embeddings_response(self, content: bytes, target: ProviderTarget) -> EmbeddingsResult:
        """Never called: embeddings_request always refuses."""
        raise InvalidRequest(f"provider {target.name} (anthropic) does not offer embeddings", param="model")


PROVIDER = Anthropic()
