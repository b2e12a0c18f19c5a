"""xAI Grok (OpenAI-compatible); penalties and stop are rejected only by reasoning models, so none dropped."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(
    id="xai",
    otel_name="x_ai",
    default_base_url="https://api.x.ai/v1",
)
