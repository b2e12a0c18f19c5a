"""Azure OpenAI: deployment URLs with api-version, the `api-key` header, content-filter errors kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import msgspec

from gateway.errors import ProviderError
from gateway.providers.base import ProviderTarget
from gateway.providers.openai_compat import OpenAICompatible
from gateway.providers.openai_shapes import scrub_secret
from gateway.providers.retry_after import retry_after_seconds

DEFAULT_API_VERSION = "2024-10-21"  # latest GA data-plane version at the time of writing


class _AzureErrorDetail(msgspec.Struct):
    message: Any = None
    type: Any = None
    code: Any = None
    param: Any = None
    innererror: Any = None


class _AzureErrorEnvelope(msgspec.Struct):
    error: _AzureErrorDetail | None = None


_azure_error_decoder = msgspec.json.Decoder(_AzureErrorEnvelope)


def _is_content_filter(detail: _AzureErrorDetail) -> bool:
    inner = detail.innererror if isinstance(detail.innererror, dict) else {}
    return detail.code == "content_filter" or inner.get("code") == "ResponsibleAIPolicyViolation"


class AzureOpenAI(OpenAICompatible):
    """OpenAI chat and embeddings bodies, addressed to a deployment, authenticated with `api-key`."""

    def url(self, target: ProviderTarget, path: str) -> str:
        """`{base}/openai/deployments/{deployment}{path}?api-version=...`; deployment defaults to model."""
        deployment = quote(target.deployment or target.model, safe="")
        version = quote(target.api_version or DEFAULT_API_VERSION, safe="")
        base = target.base_url.rstrip("/")
        return f"{base}/openai/deployments/{deployment}{path}?api-version={version}"

    def error(self, status: int, content: bytes, headers: Mapping[str, str], target: ProviderTarget) -> ProviderError:
        """OpenAI-style errors; a content-filter refusal keeps code and type `content_filter`."""
        try:
            detail = _azure_error_decoder.decode(content).error
        except (msgspec.DecodeError, msgspec.ValidationError):
            detail = None
        if detail is not None and _is_content_filter(detail):
            message = scrub_secret(str(detail.message or "content filtered"), target)
            return ProviderError(
                f"{target.name} error: {message}",
                provider=target.name,
                status=status,
                error_type="content_filter",
                retry_after_s=retry_after_seconds(headers),
                code="content_filter",
                param=str(detail.param) if detail.param is not None else None,
            )
        exc = super().error(status, content, headers, target)
        exc.message = scrub_secret(exc.message, target)
        exc.args = (exc.message,)
        return exc


PROVIDER = AzureOpenAI(
    id="azure_openai",
    otel_name="azure.ai.openai",
    default_base_url="https://YOUR-RESOURCE.openai.azure.com",
    auth_header="api-key",
    auth_prefix="",
)
