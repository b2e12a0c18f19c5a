"""The shared adapter for OpenAI-compatible APIs: the caller's body passes through with the model set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway.errors import InvalidRequest, ProviderError, ProviderStreamError
from gateway.providers.base import (
    ChatResult,
    EmbeddingsResult,
    ProviderTarget,
    StreamEvent,
    TokenUsage,
    UpstreamRequest,
)
from gateway.providers.openai_shapes import scrub_secret
from gateway.providers.retry_after import retry_after_seconds
from gateway.providers.sse import SSEStreamDecoder
from schemas.chat import JsonObject


class _Details(msgspec.Struct):
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_creation_tokens: int | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: _Details | None = None
    completion_tokens_details: _Details | None = None


class _Delta(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    finish_reason: str | None = None
    delta: _Delta | None = None


class _Facts(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    error: Any = None


class _ErrorDetail(msgspec.Struct):
    message: Any = None
    type: Any = None
    code: Any = None
    param: Any = None


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorDetail | str | None = None
    message: Any = None


_facts_decoder = msgspec.json.Decoder(_Facts)
_error_decoder = msgspec.json.Decoder(_ErrorEnvelope)
_encoder = msgspec.json.Encoder()


def normalise_usage(usage: _Usage | None) -> TokenUsage | None:
    """Map OpenAI usage (with detail buckets) to TokenUsage."""
    if usage is None:
        return None
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return TokenUsage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cached_input_tokens=(prompt.cached_tokens or 0) if prompt else 0,
        cache_write_tokens=(prompt.cache_creation_tokens or 0) if prompt else 0,
        reasoning_tokens=(completion.reasoning_tokens or 0) if completion else 0,
    )


def provider_error_from_body(
    provider: str, status: int, content: bytes, headers: Mapping[str, str]
) -> ProviderError:
    """Build a ProviderError from an OpenAI-style error body, keeping the upstream status."""
    message, error_type, code, param = "", None, None, None
    try:
        envelope = _error_decoder.decode(content)
        if isinstance(envelope.error, _ErrorDetail):
            message = str(envelope.error.message or "")
            error_type = str(envelope.error.type) if envelope.error.type else None
            code = str(envelope.error.code) if envelope.error.code is not None else None
            param = str(envelope.error.param) if envelope.error.param is not None else None
        elif isinstance(envelope.error, str):
            message = envelope.error
        elif envelope.message:
            message = str(envelope.message)
    except (msgspec.DecodeError, msgspec.ValidationError):
        message = content[:200].decode("utf-8", "replace").strip()
    if not message:
        message = f"HTTP {status}"
    return ProviderError(
        f"{provider} error: {message}",
        provider=provider,
        status=status,
        error_type=error_type,
        retry_after_s=retry_after_seconds(headers),
        code=code,
        param=param,
    )


def _response_facts(content: bytes, target: ProviderTarget) -> _Facts:
    """Read id, model, choices and usage from an upstream body; an undecodable body is a 502 naming the target."""
    try:
        return _facts_decoder.decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProviderError(
            f"{target.name} returned an invalid response body", provider=target.name, status=502
        ) from exc


class OpenAIStreamDecoder(SSEStreamDecoder):
    """Relays OpenAI SSE chunks unchanged while reading text, usage and finish reasons from them."""

    __slots__ = ()

    def _translate(self, data: bytes) -> list[StreamEvent]:
        return [self._event(data)]

    def _event(self, data: bytes) -> StreamEvent:
        if data == b"[DONE]":
            return StreamEvent(data=b"data: [DONE]\n\n", done=True)
        try:
            facts = _facts_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProviderStreamError(
                f"{self._provider} sent a malformed stream chunk", provider=self._provider
            ) from exc
        if facts.error is not None:
            detail = facts.error.get("message") if isinstance(facts.error, dict) else facts.error
            raise ProviderStreamError(f"{self._provider} stream error: {detail}", provider=self._provider)
        text, finish = "", None
        for choice in facts.choices or ():
            if choice.delta is not None and choice.delta.content:
                text += choice.delta.content
            if choice.finish_reason:
                finish = choice.finish_reason
        usage = normalise_usage(facts.usage)
        usage_only = usage is not None and not facts.choices
        out = b"" if usage_only and not self._include_usage else b"data: " + data + b"\n\n"
        return StreamEvent(
            data=out,
            text=text,
            finish_reason=finish,
            usage=usage,
            response_id=facts.id,
            response_model=facts.model,
        )


class OpenAICompatible:
    """Adapter for any API that speaks OpenAI chat completions; each provider is one instance of it."""

    def __init__(
        self,
        *,
        id: str,
        otel_name: str,
        default_base_url: str,
        drop_params: frozenset[str] = frozenset(),
        auth_header: str = "Authorization",
        auth_prefix: str = "Bearer ",
        supports_embeddings: bool = True,
        supports_stream_usage: bool = True,
    ) -> None:
        self.id = id
        self.otel_name = otel_name
        self.default_base_url = default_base_url
        self.drop_params = drop_params
        self.auth_header = auth_header
        self.auth_prefix = auth_prefix
        self.supports_embeddings = supports_embeddings
        self.supports_stream_usage = supports_stream_usage

    def headers(self, target: ProviderTarget) -> dict[str, str]:
        """Upstream headers: content type, the operator's credential, and operator-set extras."""
        headers = {"content-type": "application/json", "accept": "application/json"}
        if target.api_key:
            headers[self.auth_header] = self.auth_prefix + target.api_key
        headers.update(target.extra_headers)
        return headers

    def url(self, target: ProviderTarget, path: str) -> str:
        """The endpoint URL under the target's base URL."""
        return target.base_url.rstrip("/") + path

    def prepare_body(self, body: JsonObject, target: ProviderTarget, *, stream: bool) -> JsonObject:
        """The body sent upstream: the caller's fields, the target's model, unsupported params dropped."""
        out = {k: v for k, v in body.items() if k not in self.drop_params} if self.drop_params else dict(body)
        out["model"] = target.model
        if stream:
            out["stream"] = True
            if self.supports_stream_usage:
                options = dict(out.get("stream_options") or {})
                options["include_usage"] = True
                out["stream_options"] = options
        return out

    def chat_request(self, body: JsonObject, target: ProviderTarget, *, stream: bool) -> UpstreamRequest:
        """Build the upstream chat request."""
        content = _encoder.encode(self.prepare_body(body, target, stream=stream))
        return UpstreamRequest(
            url=self.url(target, "/chat/completions"), headers=self.headers(target), content=content
        )

    def chat_response(self, content: bytes, target: ProviderTarget) -> ChatResult:
        """Pass the body through unchanged; read id, model, finish reasons and usage from it."""
        facts = _response_facts(content, target)
        return ChatResult(
            body=content,
            response_id=facts.id or "",
            response_model=facts.model or "",
            finish_reasons=[c.finish_reason for c in facts.choices or () if c.finish_reason],
            usage=normalise_usage(facts.usage),
        )

    def chat_stream(self, target: ProviderTarget, *, include_usage: bool) -> OpenAIStreamDecoder:
        """Decoder relaying upstream chunks as they are."""
        return OpenAIStreamDecoder(target.name, include_usage=include_usage)

    def error(
        self, status: int, content: bytes, headers: Mapping[str, str], target: ProviderTarget
    ) -> ProviderError:
        """OpenAI-style error body → ProviderError, with the target's credential scrubbed from the message."""
        error = provider_error_from_body(target.name, status, content, headers)
        scrubbed = scrub_secret(error.message, target)
        if scrubbed != error.message:
            error.message = scrubbed
            error.args = (scrubbed,)
        return error

    def embeddings_request(self, body: JsonObject, target: ProviderTarget) -> UpstreamRequest:
        """Build the upstream embeddings request."""
        if not self.supports_embeddings:
            raise InvalidRequest(f"provider {target.name} does not offer embeddings", param="model")
        out = dict(body)
        out["model"] = target.model
        return UpstreamRequest(
            url=self.url(target, "/embeddings"), headers=self.headers(target), content=_encoder.encode(out)
        )

    def embeddings_response(self, content: bytes, target: ProviderTarget) -> EmbeddingsResult:
        """Pass the embeddings body through; read model and usage."""
        facts = _response_facts(content, target)
        return EmbeddingsResult(body=content, response_model=facts.model or "", usage=normalise_usage(facts.usage))
