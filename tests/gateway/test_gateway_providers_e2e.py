"""End to end across formats: the openai SDK to Anthropic and Gemini targets, the anthropic SDK to /v1/messages."""

from __future__ import annotations

import anthropic
import openai
import pytest
from gateway_harness import running_gateway

from gateway.settings import parse_settings


@pytest.fixture(scope="module")
def gateway(simulator, chdb_dsn, tmp_path_factory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("providers")
    text = f"""
providers:
  oai:
    adapter: openai
    base_url: {simulator.base_url}/v1
    api_key: sk-oai
    models: [gpt-4o-mini]
  claude:
    adapter: anthropic
    base_url: {simulator.base_url}
    api_key: sk-ant-secret
    models: [claude-haiku-4-5]
    default_max_tokens: 64
  gem:
    adapter: gemini
    base_url: {simulator.base_url}
    api_key: gem-secret
    models: [gemini-2.5-flash]
  az:
    adapter: azure_openai
    base_url: {simulator.base_url}
    api_key: az-secret
    api_version: 2024-10-21
    models: [gpt-4o-deploy]
store:
  dsn: {chdb_dsn}
  database: providers_e2e
  spool_dir: {tmp}/spool
"""
    with running_gateway(parse_settings(text)) as running:
        yield running


TOOLS = [{"type": "function", "function": {"name": "lookup_order", "description": "Find an order",
          "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                         "required": ["order_id"]}}}]


@pytest.mark.parametrize("model", ["claude/claude-haiku-4-5", "gem/gemini-2.5-flash", "az/gpt-4o-deploy"])
def test_openai_sdk_text_stream_and_tools(gateway, model: str) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "system", "content": "be brief"},
                               {"role": "user", "content": "echo: bonjour le monde"}])
    assert reply.choices[0].message.content == "bonjour le monde"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "echo: un deux trois"}], stream=True,
        stream_options={"include_usage": True})
    text, usage = "", None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        usage = chunk.usage or usage
    assert text == "un deux trois" and usage is not None
    tool_reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "where is my order?"}], tools=TOOLS,
        tool_choice="required")
    call = tool_reply.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup_order" and "order_id" in call.function.arguments
    assert tool_reply.choices[0].finish_reason == "tool_calls"


def test_openai_sdk_image_content_to_anthropic(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    reply = client.chat.completions.create(model="claude/claude-haiku-4-5", messages=[{"role": "user", "content": [
        {"type": "text", "text": "echo: an image"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}])
    assert reply.choices[0].message.content.strip() == "an image"
    sent = [r for r in simulator.requests() if r.path == "/v1/messages"][-1].body
    image = sent["messages"][-1]["content"][1]
    assert image == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


def test_anthropic_sdk_against_messages_routed_to_openai(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    client = anthropic.Anthropic(base_url=gateway.root_url, api_key="anything", max_retries=0)
    message = client.messages.create(model="oai/gpt-4o-mini", max_tokens=50, system="short answers",
                                     messages=[{"role": "user", "content": "echo: hello claude"}])
    assert message.content[0].text == "hello claude"
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 2
    with client.messages.stream(model="oai/gpt-4o-mini", max_tokens=50,
                                messages=[{"role": "user", "content": "echo: streamed words"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "streamed words" and final.stop_reason == "end_turn"
    tool = client.messages.create(
        model="oai/gpt-4o-mini", max_tokens=50, tool_choice={"type": "any"},
        tools=[{"name": "lookup_order", "description": "Find an order",
                "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}}}],
        messages=[{"role": "user", "content": "find it"}])
    assert tool.stop_reason == "tool_use" and tool.content[-1].type == "tool_use"
    simulator.script([{"status": 429, "retry_after": "0"}] * 3, model="gpt-4o-limited")
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="oai/gpt-4o-limited", max_tokens=5, messages=[{"role": "user", "content": "hi"}],
                               extra_headers={"x-portcullis-config": '{"provider": "oai", "retry": {"attempts": 0}}'})
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="oai/gpt-4o-mini", max_tokens=5, messages=[{"role": "robot", "content": "x"}])


def test_provider_secrets_never_in_errors(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    simulator.script([{"status": 401, "message": "bad key gem-secret"}], model="gemini-2.5-flash")
    client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(model="gem/gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}])
    assert "gem-secret" not in str(err.value)


@pytest.mark.parametrize("model", ["oai/text-embedding-3-small", "gem/gemini-embedding-001", "az/embed-deploy"])
def test_embeddings_through_each_family(gateway, model: str) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    result = client.embeddings.create(model=model, input=["first text", "second text"], encoding_format="float")
    assert len(result.data) == 2 and len(result.data[0].embedding) > 0
    assert result.data[0].embedding != result.data[1].embedding
