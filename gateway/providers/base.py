"""The provider adapter contract: build upstream requests; parse answers, streams and errors into OpenAI shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import msgspec

from gateway.errors import ProviderError
from schemas.chat import JsonObject


class ProviderTarget(msgspec.Struct, kw_only=True, frozen=True):
    """A resolved leaf target: which registered provider to call, where, with which credential and model."""

    name: str  # the operator's provider name from the config file, e.g. "openai-prod"
    adapter: str  # adapter id (module name under gateway/providers), e.g. "openai", "anthropic"
    base_url: str
    model: str  # the model name sent upstream
    api_key: str | None = None  # resolved secret; never logged
    api_version: str | None = None  # Azure
    deployment: str | None = None  # Azure
    default_max_tokens: int = 4096  # used where the provider requires max_tokens (Anthropic)
    extra_headers: tuple[tuple[str, str], ...] = ()  # operator-set upstream headers


class UpstreamRequest(msgspec.Struct, kw_only=True):
    """An HTTP request ready to send upstream."""

    method: str = "POST"
    url: str
    headers: dict[str, str]
    content: bytes


class TokenUsage(msgspec.Struct, kw_only=True):
    """Normalised token counts; input includes cached input, output includes reasoning (GenAI conventions)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


class ChatResult(msgspec.Struct, kw_only=True):
    """A non-streaming completion: the OpenAI-shaped body to return plus the facts the gateway records."""

    body: bytes  # OpenAI chat.completion JSON
    response_id: str = ""
    response_model: str = ""
    finish_reasons: list[str] = msgspec.field(default_factory=list)
    usage: TokenUsage | None = None


class StreamEvent(msgspec.Struct, kw_only=True):
    """One decoded upstream stream event, already translated to OpenAI SSE bytes for the client."""

    data: bytes = b""  # SSE-framed bytes to send to the client ("data: {...}\n\n"); b"" sends nothing
    text: str = ""  # content delta text (for output guardrails and the log)
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    response_id: str | None = None
    response_model: str | None = None
    done: bool = False  # the upstream signalled the normal end of the stream


class StreamDecoder(Protocol):
    """Incremental decoder of one upstream stream."""

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Decode more upstream bytes; raise ProviderStreamError on a malformed or error event."""
        ...

    def close(self) -> list[StreamEvent]:
        """The upstream body ended; return trailing events (e.g. a final [DONE])."""
        ...


class EmbeddingsResult(msgspec.Struct, kw_only=True):
    """An embeddings response in the OpenAI shape plus usage."""

    body: bytes
    response_model: str = ""
    usage: TokenUsage | None = None


class Provider(Protocol):
    """What every adapter module exports as `PROVIDER`."""

    id: str  # == module name
    otel_name: str  # gen_ai.provider.name value, e.g. "openai", "anthropic", "gcp.gemini"
    default_base_url: str  # used when the operator's config gives no base_url

    def chat_request(self, body: JsonObject, target: ProviderTarget, *, stream: bool) -> UpstreamRequest:
        """Build the upstream request from an OpenAI-shaped chat body (model already chosen in target)."""
        ...

    def chat_response(self, content: bytes, target: ProviderTarget) -> ChatResult:
        """Parse a 2xx upstream body into an OpenAI chat.completion."""
        ...

    def chat_stream(self, target: ProviderTarget, *, include_usage: bool) -> StreamDecoder:
        """Return a decoder that turns the upstream stream into OpenAI chunks; usage chunk kept only if asked."""
        ...

    def error(self, status: int, content: bytes, headers: Mapping[str, str], target: ProviderTarget) -> ProviderError:
        """Turn a non-2xx upstream answer into a ProviderError (status kept, message without secrets)."""
        ...

    def embeddings_request(self, body: JsonObject, target: ProviderTarget) -> UpstreamRequest:
        """Build an embeddings request; raise InvalidRequest when the provider has none."""
        ...

    def embeddings_response(self, content: bytes, target: ProviderTarget) -> EmbeddingsResult:
        """Parse an embeddings response into the OpenAI shape."""
        ...
