"""Perplexity Sonar (OpenAI-compatible, chat only, no version in the path); no token log-probabilities."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(
    id="perplexity",
    otel_name="perplexity",
    default_base_url="https://api.perplexity.ai",
    drop_params=frozenset({"logit_bias", "logprobs", "top_logprobs"}),
    supports_embeddings=False,
)
