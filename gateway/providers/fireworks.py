"""Fireworks AI (OpenAI-compatible chat and embeddings; model ids look like accounts/fireworks/models/...)."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(
    id="fireworks",
    otel_name="fireworks",
    default_base_url="https://api.fireworks.ai/inference/v1",
)
