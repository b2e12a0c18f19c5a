"""Registry-wide facts: family files stay a few lines, ids and GenAI provider names, translation edge cases."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import InvalidRequest
from gateway.providers.base import ProviderTarget
from gateway.providers.openai_compat import OpenAICompatible
from gateway.providers.registry import discover

PROVIDERS = discover()
FAMILY = [
    "groq",
    "mistral",
    "deepseek",
    "together",
    "fireworks",
    "openrouter",
    "xai",
    "perplexity",
    "ollama",
    "vllm",
    "lmstudio",
]
# gen_ai.provider.name well-known values (OTel GenAI semconv); other providers use their id.
SEMCONV_NAMES = {
    "openai": "openai",
    "groq": "groq",
    "mistral": "mistral_ai",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "azure_openai": "azure.ai.openai",
}


@pytest.mark.parametrize("provider_id", FAMILY)
def test_family_member_is_a_short_file_on_the_shared_adapter(provider_id: str) -> None:
    module = importlib.import_module(f"gateway.providers.{provider_id}")
    assert module.__file__ is not None
    lines = Path(module.__file__).read_text().splitlines()
    assert len(lines) < 30, f"{provider_id}.py has {len(lines)} lines"
    assert isinstance(PROVIDERS[provider_id], OpenAICompatible)


@pytest.mark.parametrize("provider_id", sorted(PROVIDERS))
def test_ids_names_and_base_urls(provider_id: str) -> None:
    provider = PROVIDERS[provider_id]
    assert provider.id == provider_id
    assert provider.otel_name == SEMCONV_NAMES.get(provider_id, provider_id)
    assert provider.default_base_url.startswith(("https://", "http://localhost:"))


def _target(adapter: str) -> ProviderTarget:
    return ProviderTarget(
        name="t", adapter=adapter, base_url=PROVIDERS[adapter].default_base_url, model="m", api_key="k"
    )


def _body(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": list(messages), **extra}


@pytest.mark.parametrize("adapter", ["anthropic", "gemini"])
@pytest.mark.parametrize(
    ("body", "param"),
    [
        (_body({"role": "function", "name": "f", "content": "x"}), "messages[0]"),
        (_body({"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}), "messages[0].content[0]"),
        (
            _body({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}),
            "messages[0].content[0]",
        ),
        (
            _body({"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{nope"}}]}),
            "messages[0].tool_calls[0]",
        ),
        (_body({"role": "user", "content": "x"}, tools=[{"type": "web_search"}]), "tools[0]"),
        (
            _body(
                {"role": "user", "content": "x"},
                tools=[{"type": "function", "function": {"name": "f"}}],
                tool_choice={"type": "allowed_tools"},
            ),
            "tool_choice",
        ),
    ],
)
def test_untranslatable_requests_are_400_naming_the_param(adapter: str, body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        PROVIDERS[adapter].chat_request(body, _target(adapter), stream=False)
    assert caught.value.param == param


def test_gemini_tool_result_needs_a_known_call() -> None:
    body = _body({"role": "tool", "tool_call_id": "unknown", "content": "x"})
    with pytest.raises(InvalidRequest) as caught:
        PROVIDERS["gemini"].chat_request(body, _target("gemini"), stream=False)
    assert caught.value.param == "messages[0]"


def test_anthropic_pdf_file_part_becomes_a_document_block() -> None:
    body = _body(
        {"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}}]}
    )
    request = PROVIDERS["anthropic"].chat_request(body, _target("anthropic"), stream=False)
    assert (
        b'{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"}}'
        in request.content
    )


def test_anthropic_parallel_false_without_tool_choice_adds_auto() -> None:
    body = _body(
        {"role": "user", "content": "x"},
        tools=[{"type": "function", "function": {"name": "f"}}],
        parallel_tool_calls=False,
    )
    request = PROVIDERS["anthropic"].chat_request(body, _target("anthropic"), stream=False)
    assert b'"tool_choice":{"type":"auto","disable_parallel_tool_use":true}' in request.content
