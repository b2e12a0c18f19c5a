"""vLLM's OpenAI-compatible server (self-hosted; the key is optional, sent as a bearer token when set)."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(
    id="vllm",
    otel_name="vllm",
    default_base_url="http://localhost:8000/v1",
)
