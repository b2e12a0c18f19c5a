"""Google Gemini (Generative Language API v1beta): generateContent, streamGenerateContent, embeddings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import msgspec

from gateway.errors import InvalidRequest, ProviderError
from gateway.providers.base import ChatResult, EmbeddingsResult, ProviderTarget, UpstreamRequest
from gateway.providers.gemini_request import gemini_body
from gateway.providers.gemini_stream import (
    GeminiStreamDecoder,
    finish_reason,
    gemini_usage,
    new_response_id,
    split_parts,
    tool_call,
)
from gateway.providers.openai_shapes import assistant_choice, completion_body, scrub_secret
from gateway.providers.retry_after import retry_after_seconds
from schemas.chat import JsonObject

# google.rpc status → OpenAI error type.
ERROR_TYPES = {
    "INVALID_ARGUMENT": "invalid_request_error",
    "FAILED_PRECONDITION": "invalid_request_error",
    "OUT_OF_RANGE": "invalid_request_error",
    "UNAUTHENTICATED": "authentication_error",
    "PERMISSION_DENIED": "permission_error",
    "NOT_FOUND": "not_found_error",
    "RESOURCE_EXHAUSTED": "rate_limit_error",
    "INTERNAL": "api_error",
    "UNAVAILABLE": "api_error",
    "DEADLINE_EXCEEDED": "timeout",
}

_encoder = msgspec.json.Encoder()
_json = msgspec.json.Decoder()


def _model_path(target: ProviderTarget) -> str:
    model = target.model.removeprefix("models/")
    return "models/" + quote(model, safe="-._~")


def _decode(content: bytes, target: ProviderTarget) -> dict[str, Any]:
    try:
        value = _json.decode(content)
    except msgspec.DecodeError as exc:
        raise ProviderError(
            f"{target.name} returned an invalid response body", provider=target.name, status=502
        ) from exc
    if not isinstance(value, dict):
        raise ProviderError(f"{target.name} returned an unexpected response body", provider=target.name, status=502)
    return value


def _choice(candidate: dict[str, Any], position: int) -> dict[str, Any]:
    index = int(candidate.get("index") or position)
    texts, calls = split_parts(candidate.get("content"))
    tool_calls = [tool_call(call, f"call_{index}_{j}") for j, call in enumerate(calls)]
    reason = finish_reason(candidate.get("finishReason") or "STOP", bool(tool_calls))
    return assistant_choice(index, "".join(texts) if texts else None, tool_calls, reason)


class Gemini:
    """Translating adapter; the key travels in `x-goog-api-key`, never in the URL."""

    id = "gemini"
    otel_name = "gcp.gemini"
    default_base_url = "https://generativelanguage.googleapis.com"

    def headers(self, target: ProviderTarget) -> dict[str, str]:
        """Content type, `x-goog-api-key`, operator extras."""
        headers = {"content-type": "application/json", "accept": "application/json"}
        if target.api_key:
            headers["x-goog-api-key"] = target.api_key
        headers.update(target.extra_headers)
        return headers

    def chat_request(self, body: JsonObject, target: ProviderTarget, *, stream: bool) -> UpstreamRequest:
        """`:generateContent`, or `:streamGenerateContent?alt=sse` for streams."""
        method = ":streamGenerateContent?alt=sse" if stream else ":generateContent"
        url = f"{target.base_url.rstrip('/')}/v1beta/{_model_path(target)}{method}"
        return UpstreamRequest(url=url, headers=self.headers(target), content=_encoder.encode(gemini_body(body)))

    def chat_response(self, content: bytes, target: ProviderTarget) -> ChatResult:
        """GenerateContentResponse → chat.completion (a choice per candidate; blocked → content_filter)."""
        response = _decode(content, target)
        candidates = [c for c in response.get("candidates") or () if isinstance(c, dict)]
        choices = [_choice(c, i) for i, c in enumerate(candidates)]
        if not choices and (response.get("promptFeedback") or {}).get("blockReason"):
            choices = [assistant_choice(0, None, [], "content_filter")]
        usage = gemini_usage(response.get("usageMetadata"))
        response_id = str(response.get("responseId") or new_response_id())
        model = str(response.get("modelVersion") or target.model)
        body = completion_body(response_id=response_id, model=model, choices=choices, usage=usage)
        return ChatResult(
            body=body,
            response_id=response_id,
            response_model=model,
            finish_reasons=[c["finish_reason"] for c in choices],
            usage=usage,
        )

    def chat_stream(self, target: ProviderTarget, *, include_usage: bool) -> GeminiStreamDecoder:
        """Decoder from Gemini SSE to OpenAI chunks."""
        return GeminiStreamDecoder(target.name, include_usage=include_usage)

    def error(self, status: int, content: bytes, headers: Mapping[str, str], target: ProviderTarget) -> ProviderError:
        """`{"error":{"code","message","status"}}` → ProviderError with the upstream status."""
        message, rpc_status = "", None
        try:
            envelope = _json.decode(content)
            error = envelope[0] if isinstance(envelope, list) and envelope else envelope
            error = error.get("error") if isinstance(error, dict) else None
            if isinstance(error, dict):
                message = str(error.get("message") or "")
                rpc_status = str(error.get("status")) if error.get("status") else None
        except msgspec.DecodeError:
            message = content[:200].decode("utf-8", "replace").strip()
        message = scrub_secret(message or f"HTTP {status}", target)
        return ProviderError(
            f"{target.name} error: {message}",
            provider=target.name,
            status=status,
            error_type=ERROR_TYPES.get(rpc_status or "", rpc_status),
            retry_after_s=retry_after_seconds(headers),
            code=rpc_status,
        )

    def embeddings_request(self, body: JsonObject, target: ProviderTarget) -> UpstreamRequest:
        """OpenAI embeddings (string or list of strings) → `:batchEmbedContents`."""
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise InvalidRequest("input must be a string or a non-empty list of strings for Gemini", param="input")
        model = _model_path(target)
        requests: list[dict[str, Any]] = []
        for text in texts:
            request: dict[str, Any] = {"model": model, "content": {"parts": [{"text": text}]}}
            if body.get("dimensions"):
                request["outputDimensionality"] = body["dimensions"]
            requests.append(request)
        url = f"{target.base_url.rstrip('/')}/v1beta/{model}:batchEmbedContents"
        return UpstreamRequest(url=url, headers=self.headers(target), content=_encoder.encode({"requests": requests}))

    def embeddings_response(self, content: bytes, target: ProviderTarget) -> EmbeddingsResult:
        """`{"embeddings":[{"values"}]}` → OpenAI list; Gemini reports no token usage for embeddings."""
        response = _decode(content, target)
        data = []
        for i, item in enumerate(response.get("embeddings") or ()):
            values = [float(v) for v in (item or {}).get("values") or ()]
            data.append({"object": "embedding", "index": i, "embedding": values})
        body = {
            "object": "list",
            "data": data,
            "model": target.model,
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }
        return EmbeddingsResult(body=_encoder.encode(body), response_model=target.model)


PROVIDER = Gemini()
