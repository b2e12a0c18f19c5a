"""Together AI (OpenAI-compatible chat and embeddings)."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(
    id="together",
    otel_name="together",
    default_base_url="https://api.together.xyz/v1",
)
