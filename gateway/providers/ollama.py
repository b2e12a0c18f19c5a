"""Ollama's OpenAI-compatible endpoint (local, no key); logit_bias, user and n are unsupported fields."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(
    id="ollama",
    otel_name="ollama",
    default_base_url="http://localhost:11434/v1",
    drop_params=frozenset({"logit_bias", "user", "n"}),
)
