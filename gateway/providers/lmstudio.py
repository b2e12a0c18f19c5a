"""LM Studio's OpenAI-compatible local server (no key needed)."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(
    id="lmstudio",
    otel_name="lmstudio",
    default_base_url="http://localhost:1234/v1",
)
