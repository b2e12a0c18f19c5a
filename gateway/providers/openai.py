"""OpenAI (api.openai.com) on the shared OpenAI-compatible adapter."""

from gateway.providers.openai_compat import OpenAICompatible

PROVIDER = OpenAICompatible(id="openai", otel_name="openai", default_base_url="https://api.openai.com/v1")
