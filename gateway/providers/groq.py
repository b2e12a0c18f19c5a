"""Groq (OpenAI-compatible); its docs list logprobs, logit_bias and top_logprobs as rejected with a 400."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(
    id="groq",
    otel_name="groq",
    default_base_url="https://api.groq.com/openai/v1",
    drop_params=frozenset({"logprobs", "logit_bias", "top_logprobs"}),
    supports_embeddings=False,
)
