"""The simulator's OpenAI and Azure OpenAI wire format, exercised with the real openai SDK."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from gateway.simulator import FaultSpec, RunningSimulator

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}},
}


def client_for(sim: RunningSimulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="sk-test", max_retries=0, timeout=10)


def test_non_stream_completion_has_the_documented_shape_and_consistent_usage(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "three little words"}]
        )
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.logprobs is None
    assert len(choice.message.content.split()) == 16
    usage = completion.usage
    assert usage.prompt_tokens == 3
    assert usage.completion_tokens == 16
    assert usage.total_tokens == 19
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_same_request_gives_same_text_and_seed_changes_it(sim: RunningSimulator) -> None:
    messages = [{"role": "user", "content": "determinism please"}]
    with client_for(sim) as client:
        first = client.chat.completions.create(model="m", messages=messages).choices[0].message.content
        second = client.chat.completions.create(model="m", messages=messages).choices[0].message.content
        seeded = client.chat.completions.create(model="m", messages=messages, seed=7).choices[0].message.content
    assert first == second
    assert seeded != first


def test_max_tokens_cuts_with_finish_reason_length(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        completion = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=4
        )
    assert completion.choices[0].finish_reason == "length"
    assert len(completion.choices[0].message.content.split()) == 4
    assert completion.usage.completion_tokens == 4


def test_stream_chunks_role_deltas_finish_usage_and_done(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "stream me"}],
            max_tokens=5,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content]
    assert len(deltas) == 5
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 5
    assert chunks[-1].usage.prompt_tokens == 2
    with client_for(sim) as client:
        whole = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "stream me"}], max_tokens=5
        )
    assert "".join(deltas) == whole.choices[0].message.content


def test_async_client_stream_and_non_stream_with_echo(sim: RunningSimulator) -> None:
    async def scenario() -> tuple[str, str]:
        async with openai.AsyncOpenAI(base_url=f"{sim.base_url}/v1", api_key="k", max_retries=0) as client:
            plain = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "echo: <b>Call 555-0100</b>  now"}]
            )
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "echo: <b>Call 555-0100</b>  now"}], stream=True
            )
            pieces = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
            return plain.choices[0].message.content, "".join(pieces)

    plain, streamed = asyncio.run(scenario())
    assert plain == "<b>Call 555-0100</b>  now"
    assert streamed == plain


def test_required_tool_choice_returns_schema_shaped_arguments(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        completion = client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "weather?"}],
            tools=[WEATHER_TOOL],
            tool_choice="required",
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert isinstance(arguments["city"], str)
    assert arguments["unit"] == "celsius"
    assert isinstance(arguments["days"], int)


def test_named_tool_and_parallel_and_prefix(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        named = client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "x"}],
            tools=[WEATHER_TOOL, TIME_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        )
        parallel = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "tool:parallel"}], tools=[WEATHER_TOOL, TIME_TOOL]
        )
        plain = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "no tools wanted"}], tools=[WEATHER_TOOL]
        )
    assert [c.function.name for c in named.choices[0].message.tool_calls] == ["get_time"]
    assert [c.function.name for c in parallel.choices[0].message.tool_calls] == ["get_weather", "get_time"]
    assert plain.choices[0].message.tool_calls is None
    assert plain.choices[0].finish_reason == "stop"


def test_streamed_tool_call_arguments_reassemble(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        stream = client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "tool:get_weather"}],
            tools=[WEATHER_TOOL],
            stream=True,
        )
        chunks = list(stream)
        whole = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "tool:get_weather"}], tools=[WEATHER_TOOL]
        )
    arguments = "".join(
        call.function.arguments or ""
        for chunk in chunks
        if chunk.choices
        for call in chunk.choices[0].delta.tool_calls or []
    )
    assert chunks[0].choices[0].delta.tool_calls[0].function.name == "get_weather"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert arguments == whole.choices[0].message.tool_calls[0].function.arguments


def test_stop_sequence_cuts_text(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        completion = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "echo: one two STOP three"}], stop=["STOP"]
        )
    assert completion.choices[0].message.content == "one two "
    assert completion.choices[0].finish_reason == "stop"


def test_cached_and_reasoning_token_headers(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        completion = client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "a b c d"}],
            extra_headers={"x-sim-cached-tokens": "3", "x-sim-reasoning-tokens": "5", "x-sim-tokens": "2"},
        )
    usage = completion.usage
    assert usage.prompt_tokens_details.cached_tokens == 3
    assert usage.completion_tokens_details.reasoning_tokens == 5
    assert usage.completion_tokens == 7
    assert usage.total_tokens == 11


def test_embeddings_float_and_base64_are_deterministic(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        default = client.embeddings.create(model="text-embedding-3-small", input=["hello world", "bye"])
        floats = client.embeddings.create(
            model="text-embedding-3-small", input="hello world", encoding_format="float", dimensions=16
        )
        again = client.embeddings.create(model="text-embedding-3-small", input="hello world", dimensions=16)
    assert [len(item.embedding) for item in default.data] == [8, 8]
    assert default.usage.prompt_tokens == 3
    assert len(floats.data[0].embedding) == 16
    assert floats.data[0].embedding == pytest.approx(again.data[0].embedding, rel=1e-6)
    assert sum(v * v for v in floats.data[0].embedding) == pytest.approx(1.0, rel=1e-5)


def test_models_list(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        models = [model.id for model in client.models.list()]
    assert "gpt-4o-mini" in models


def test_azure_deployment_path(sim: RunningSimulator) -> None:
    with openai.AzureOpenAI(
        azure_endpoint=sim.base_url, api_key="azure-key", api_version="2024-10-21", max_retries=0
    ) as client:
        completion = client.chat.completions.create(
            model="my-deployment", messages=[{"role": "user", "content": "echo: azure ok"}]
        )
        vectors = client.embeddings.create(model="emb-deployment", input="x", encoding_format="float")
    assert completion.model == "my-deployment"
    assert completion.choices[0].message.content == "azure ok"
    assert len(vectors.data[0].embedding) == 8
    record = sim.requests()[0]
    assert record.path == "/openai/deployments/my-deployment/chat/completions"
    assert "api-version=2024-10-21" in record.query
    assert record.headers["api-key"] == "azure-key"


def test_errors_use_the_openai_shape(sim: RunningSimulator) -> None:
    no_key = httpx.post(f"{sim.base_url}/v1/chat/completions", json={"model": "m", "messages": []}, timeout=5)
    assert no_key.status_code == 401
    assert set(no_key.json()["error"]) == {"message", "type", "param", "code"}
    sim.script([FaultSpec(status=429, retry_after="3", retry_after_ms="1500")])
    with client_for(sim) as client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.response.headers["retry-after-ms"] == "1500"
    assert caught.value.body["code"] == "rate_limit_exceeded"
