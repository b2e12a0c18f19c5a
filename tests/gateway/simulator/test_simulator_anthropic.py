"""The simulator's Anthropic Messages wire format, exercised with the real anthropic SDK."""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import pytest

from gateway.simulator import FaultSpec, RunningSimulator

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "metric": {"type": "boolean"}},
        "required": ["city"],
    },
}
SEARCH_TOOL = {"name": "search", "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}


def client_for(sim: RunningSimulator) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.base_url, api_key="sk-ant-test", max_retries=0, timeout=10)


def test_message_shape_and_usage(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        message = client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=100,
            system="Be brief.",
            messages=[{"role": "user", "content": "hello there friend"}],
        )
    assert message.id.startswith("msg_")
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == "claude-haiku-4-5"
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert message.content[0].type == "text"
    assert len(message.content[0].text.split()) == 16
    assert message.usage.input_tokens == 5
    assert message.usage.output_tokens == 16
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation_input_tokens == 0


def test_max_tokens_and_stop_sequence_reasons(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        short = client.messages.create(model="c", max_tokens=3, messages=[{"role": "user", "content": "hi"}])
        stopped = client.messages.create(
            model="c",
            max_tokens=50,
            stop_sequences=["END"],
            messages=[{"role": "user", "content": "echo: alpha beta END gamma"}],
        )
    assert short.stop_reason == "max_tokens"
    assert short.usage.output_tokens == 3
    assert stopped.stop_reason == "stop_sequence"
    assert stopped.stop_sequence == "END"
    assert stopped.content[0].text == "alpha beta "


def test_stream_events_in_order_and_text_matches_non_stream(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        with client.messages.stream(
            model="c", max_tokens=6, messages=[{"role": "user", "content": "stream it"}]
        ) as stream:
            events = [event.type for event in stream]
            final = stream.get_final_message()
        whole = client.messages.create(model="c", max_tokens=6, messages=[{"role": "user", "content": "stream it"}])
    raw = [e for e in events if e not in ("text",)]
    assert raw[:3] == ["message_start", "content_block_start", "content_block_delta"]
    assert raw[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert final.content[0].text == whole.content[0].text
    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 6


def test_ping_event_is_sent(sim: RunningSimulator) -> None:
    response = httpx.post(
        f"{sim.base_url}/v1/messages",
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        json={"model": "c", "max_tokens": 2, "stream": True, "messages": [{"role": "user", "content": "x"}]},
        timeout=5,
    )
    names = [line[len("event: ") :] for line in response.text.splitlines() if line.startswith("event: ")]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_tool_use_forced_any_and_named_and_streamed(sim: RunningSimulator) -> None:
    with client_for(sim) as client:
        forced = client.messages.create(
            model="c",
            max_tokens=100,
            tools=[WEATHER_TOOL, SEARCH_TOOL],
            tool_choice={"type": "any"},
            messages=[{"role": "user", "content": "weather"}],
        )
        named = client.messages.create(
            model="c",
            max_tokens=100,
            tools=[WEATHER_TOOL, SEARCH_TOOL],
            tool_choice={"type": "tool", "name": "search"},
            messages=[{"role": "user", "content": "q"}],
        )
        with client.messages.stream(
            model="c", max_tokens=100, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "tool:"}]
        ) as stream:
            streamed = stream.get_final_message()
    block = forced.content[0]
    assert forced.stop_reason == "tool_use"
    assert block.type == "tool_use"
    assert block.id.startswith("toolu_")
    assert block.name == "get_weather"
    assert isinstance(block.input["city"], str)
    assert isinstance(block.input["days"], int)
    assert block.input["metric"] is True
    assert named.content[0].name == "search"
    assert streamed.stop_reason == "tool_use"
    assert streamed.content[0].input == block.input or streamed.content[0].name == "get_weather"


def test_parallel_tools_and_async_client(sim: RunningSimulator) -> None:
    async def scenario() -> anthropic.types.Message:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
            return await client.messages.create(
                model="c",
                max_tokens=100,
                tools=[WEATHER_TOOL, SEARCH_TOOL],
                messages=[{"role": "user", "content": "tool:parallel"}],
            )

    message = asyncio.run(scenario())
    assert [block.name for block in message.content] == ["get_weather", "search"]


def test_async_stream_echo(sim: RunningSimulator) -> None:
    async def scenario() -> str:
        messages = [{"role": "user", "content": "echo: my SSN is 078-05-1120"}]
        async with (
            anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client,
            client.messages.stream(model="c", max_tokens=100, messages=messages) as stream,
        ):
            return "".join([text async for text in stream.text_stream])

    assert asyncio.run(scenario()) == "my SSN is 078-05-1120"


def test_required_headers_and_body_fields(sim: RunningSimulator) -> None:
    body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    url = f"{sim.base_url}/v1/messages"
    no_key = httpx.post(url, headers={"anthropic-version": "2023-06-01"}, json=body, timeout=5)
    no_version = httpx.post(url, headers={"x-api-key": "k"}, json=body, timeout=5)
    no_max = httpx.post(
        url,
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        json={"model": "c", "messages": body["messages"]},
        timeout=5,
    )
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "authentication_error"
    assert no_version.status_code == 400
    assert no_version.json()["type"] == "error"
    assert no_max.status_code == 400
    assert no_max.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in no_max.json()["error"]["message"]


def test_overloaded_and_rate_limit_errors(sim: RunningSimulator) -> None:
    sim.script([FaultSpec(status=529), FaultSpec(status=429, retry_after="1")])
    with client_for(sim) as client:
        with pytest.raises(anthropic.OverloadedError) as overloaded:
            client.messages.create(model="c", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        with pytest.raises(anthropic.RateLimitError) as limited:
            client.messages.create(model="c", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    assert limited.value.response.headers["retry-after"] == "1"


def test_mid_stream_error_event_raises_in_sdk(sim: RunningSimulator) -> None:
    sim.script([FaultSpec(error_event_after=2, status=529)])
    received: list[str] = []
    messages = [{"role": "user", "content": "x"}]
    with (
        client_for(sim) as client,
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model="c", max_tokens=10, messages=messages) as stream,
    ):
        for text in stream.text_stream:
            received.append(text)
    assert len(received) == 2
    assert caught.value.body["error"]["type"] == "overloaded_error"
