"""The translating adapters over real HTTP against the upstream simulator (Anthropic, Gemini, Azure, OpenAI)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gateway.errors import ProviderError, ProviderStreamError
from gateway.providers.base import ChatResult, Provider, ProviderTarget, StreamEvent
from gateway.providers.registry import discover
from gateway.simulator import RunningSimulator, SimulatorConfig, run_in_thread

PROVIDERS = discover()
SECRET = "sk-sim-secret-0042"
TRANSLATED = {
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "azure_openai": "gpt-4o",
    "openai": "gpt-4o-mini",
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def simulator() -> Iterator[RunningSimulator]:
    """One simulator on 127.0.0.1 for this module."""
    with run_in_thread(SimulatorConfig()) as running:
        yield running


def _target(adapter: str, sim: RunningSimulator, fault: dict[str, Any] | None = None) -> ProviderTarget:
    base = sim.base_url + "/v1" if adapter == "openai" else sim.base_url
    extra = (("x-sim-fault", json.dumps(fault)),) if fault else ()
    return ProviderTarget(
        name=f"{adapter}-sim",
        adapter=adapter,
        base_url=base,
        model=TRANSLATED[adapter],
        api_key=SECRET,
        extra_headers=extra,
    )


async def _chat(provider: Provider, target: ProviderTarget, body: dict[str, Any]) -> ChatResult:
    request = provider.chat_request(body, target, stream=False)
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(request.url, headers=request.headers, content=request.content)
    if response.status_code >= 400:
        raise provider.error(response.status_code, response.content, response.headers, target)
    return provider.chat_response(response.content, target)


async def _stream(provider: Provider, target: ProviderTarget, body: dict[str, Any]) -> list[StreamEvent]:
    request = provider.chat_request(body, target, stream=True)
    decoder = provider.chat_stream(target, include_usage=True)
    events: list[StreamEvent] = []
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("POST", request.url, headers=request.headers, content=request.content) as response,
    ):
        if response.status_code >= 400:
            content = await response.aread()
            raise provider.error(response.status_code, content, response.headers, target)
        try:
            async for piece in response.aiter_raw():
                events.extend(decoder.feed(piece))
        except httpx.RemoteProtocolError:
            pass  # a cut connection: the decoder's close() decides whether that was a normal end
    events.extend(decoder.close())
    return events


def _chunks(events: list[StreamEvent]) -> list[ChatCompletionChunk]:
    chunks = []
    for block in b"".join(e.data for e in events).decode().split("\n\n"):
        if block and block != "data: [DONE]":
            chunks.append(ChatCompletionChunk.model_validate_json(block.removeprefix("data: ")))
    return chunks


def _user(text: str) -> dict[str, Any]:
    return {
        "model": "caller-alias",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}],
        "max_tokens": 40,
    }


@pytest.mark.parametrize("adapter", sorted(TRANSLATED))
def test_chat_and_stream_agree_and_parse_with_openai_types(adapter: str, simulator: RunningSimulator) -> None:
    provider, target = PROVIDERS[adapter], _target(adapter, simulator)
    result = asyncio.run(_chat(provider, target, _user("hello there friend")))
    completion = ChatCompletion.model_validate_json(result.body)
    assert result.finish_reasons == ["stop"]
    assert completion.choices[0].message.content
    assert result.usage is not None and result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    events = asyncio.run(_stream(provider, target, _user("hello there friend")))
    chunks = _chunks(events)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(e.text for e in events) == completion.choices[0].message.content
    assert [e.finish_reason for e in events if e.finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert events[-1].done


@pytest.mark.parametrize("adapter", sorted(TRANSLATED))
def test_max_tokens_cut_is_length(adapter: str, simulator: RunningSimulator) -> None:
    body = {**_user("tell me a long story"), "max_tokens": 3}
    result = asyncio.run(_chat(PROVIDERS[adapter], _target(adapter, simulator), body))
    assert result.finish_reasons == ["length"]


@pytest.mark.parametrize("adapter", sorted(TRANSLATED))
def test_required_tool_call_round_trip(adapter: str, simulator: RunningSimulator) -> None:
    provider, target = PROVIDERS[adapter], _target(adapter, simulator)
    body = {**_user("weather please"), "tools": [WEATHER], "tool_choice": "required"}
    result = asyncio.run(_chat(provider, target, body))
    call = ChatCompletion.model_validate_json(result.body).choices[0].message.tool_calls[0]
    assert result.finish_reasons == ["tool_calls"]
    assert call.function.name == "get_weather" and "city" in json.loads(call.function.arguments)
    events = asyncio.run(_stream(provider, target, body))
    arguments = "".join(
        tc.function.arguments or "" for c in _chunks(events) for ch in c.choices for tc in ch.delta.tool_calls or ()
    )
    assert "city" in json.loads(arguments)
    assert [e.finish_reason for e in events if e.finish_reason] == ["tool_calls"]
    follow_up = {
        **body,
        "tool_choice": "none",
        "messages": [
            *body["messages"],
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'},
        ],
    }
    assert asyncio.run(_chat(provider, target, follow_up)).finish_reasons == ["stop"]


@pytest.mark.parametrize("adapter", sorted(TRANSLATED))
def test_upstream_429_keeps_status_and_retry_after(adapter: str, simulator: RunningSimulator) -> None:
    target = _target(adapter, simulator, {"status": 429, "retry_after": "3"})
    with pytest.raises(ProviderError) as caught:
        asyncio.run(_chat(PROVIDERS[adapter], target, _user("hi")))
    assert caught.value.http_status == 429
    assert caught.value.retry_after_s == 3.0
    assert SECRET not in caught.value.message


@pytest.mark.parametrize("adapter", sorted(TRANSLATED))
def test_mid_stream_error_event_raises_stream_error(adapter: str, simulator: RunningSimulator) -> None:
    target = _target(adapter, simulator, {"error_event_after": 2, "status": 529 if adapter == "anthropic" else 500})
    with pytest.raises(ProviderStreamError):
        asyncio.run(_stream(PROVIDERS[adapter], target, _user("hello there friend")))


@pytest.mark.parametrize("adapter", ["anthropic", "gemini"])
def test_cut_stream_is_not_a_normal_end(adapter: str, simulator: RunningSimulator) -> None:
    target = _target(adapter, simulator, {"close_after": 2})
    with pytest.raises(ProviderStreamError):
        asyncio.run(_stream(PROVIDERS[adapter], target, _user("hello there friend")))


@pytest.mark.parametrize("adapter", ["gemini", "azure_openai"])
def test_embeddings(adapter: str, simulator: RunningSimulator) -> None:
    provider = PROVIDERS[adapter]
    target = msgspec.structs.replace(_target(adapter, simulator), model="text-embedding-3-small")
    request = provider.embeddings_request({"model": "x", "input": ["alpha", "beta"]}, target)

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(request.url, headers=request.headers, content=request.content)

    response = asyncio.run(call())
    assert response.status_code == 200, response.text
    parsed = CreateEmbeddingResponse.model_validate_json(provider.embeddings_response(response.content, target).body)
    assert [item.index for item in parsed.data] == [0, 1]
    assert len(parsed.data[0].embedding) > 0


def test_credentials_travel_in_headers_only(simulator: RunningSimulator) -> None:
    simulator.reset()
    for adapter in ("anthropic", "gemini", "azure_openai"):
        asyncio.run(_chat(PROVIDERS[adapter], _target(adapter, simulator), _user("hi")))
    records = simulator.wait_for(3)
    assert len(records) == 3
    for record in records:
        assert SECRET not in record.path and SECRET not in (record.query or "")
