"""Mistral AI (OpenAI-compatible; extra fields are a 422): seed → random_seed, OpenAI-only fields dropped."""

from gateway.providers.base import ProviderTarget
from gateway.providers.openai_compat import OpenAICompatible
from schemas.chat import JsonObject

_DROPPED = "logit_bias logprobs top_logprobs user stream_options store service_tier metadata reasoning_effort"
_RENAMED = {"seed": "random_seed", "max_completion_tokens": "max_tokens"}


class Mistral(OpenAICompatible):
    """Renames the two parameters Mistral spells differently, then the shared rules apply."""

    def prepare_body(self, body: JsonObject, target: ProviderTarget, *, stream: bool) -> JsonObject:
        """The shared body with Mistral's parameter names."""
        out = super().prepare_body(body, target, stream=stream)
        for openai_name, mistral_name in _RENAMED.items():
            if openai_name in out:
                out.setdefault(mistral_name, out.pop(openai_name))
        return out


PROVIDER = Mistral(
    id="mistral",
    otel_name="mistral_ai",
    default_base_url="https://api.mistral.ai/v1",
    drop_params=frozenset(_DROPPED.split()),
    supports_stream_usage=False,  # Mistral always sends usage in its last chunk and rejects stream_options
)
