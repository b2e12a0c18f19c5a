"""OpenRouter (OpenAI-compatible router; it normalises parameters per upstream model itself)."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(
    id="openrouter",
    otel_name="openrouter",
    default_base_url="https://openrouter.ai/api/v1",
)
