"""DeepSeek (OpenAI-compatible); only deepseek-reasoner rejects logprobs, so nothing is dropped globally."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(
    id="deepseek",
    otel_name="deepseek",
    default_base_url="https://api.deepseek.com",
    supports_embeddings=False,
)
