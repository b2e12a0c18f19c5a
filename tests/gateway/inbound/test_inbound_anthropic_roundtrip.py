"""The real anthropic SDK against a minimal 127.0.0.1 `/v1/messages` route built from the inbound translators.

The route pivots through the OpenAI shape to any adapter (Gemini, Anthropic, OpenAI) served by the simulator,
showing how the lead can wire the route: translate in, run the adapter, translate out (stream included).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import httpx
import pytest

from gateway.errors import GatewayError
from gateway.inbound.anthropic_events import AnthropicEventEncoder, error_event
from gateway.inbound.anthropic_messages import anthropic_error, anthropic_message, openai_chat_body
from gateway.providers.base import ProviderTarget
from gateway.providers.registry import discover
from gateway.simulator import RunningSimulator, SimulatorConfig, run_in_thread

PROVIDERS = discover()
MODELS = {"gemini": "gemini-2.5-flash", "anthropic": "claude-sonnet-4-5", "openai": "gpt-4o-mini"}
WEATHER = {
    "name": "get_weather",
    "description": "Weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _serve_messages(handler: BaseHTTPRequestHandler, target: ProviderTarget) -> None:
    provider = PROVIDERS[target.adapter]
    request = json.loads(handler.rfile.read(int(handler.headers["content-length"])))
    try:
        body = openai_chat_body(request)
        stream = bool(body.get("stream"))
        upstream = provider.chat_request(body, target, stream=stream)
        with httpx.Client(timeout=10) as client:
            if not stream:
                response = client.post(upstream.url, headers=upstream.headers, content=upstream.content)
                if response.status_code >= 400:
                    raise provider.error(response.status_code, response.content, response.headers, target)
                _reply(
                    handler,
                    200,
                    "application/json",
                    anthropic_message(provider.chat_response(response.content, target).body),
                )
                return
            decoder = provider.chat_stream(target, include_usage=True)
            encoder = AnthropicEventEncoder(model=target.model)
            with client.stream("POST", upstream.url, headers=upstream.headers, content=upstream.content) as response:
                if response.status_code >= 400:
                    raise provider.error(response.status_code, response.read(), response.headers, target)
                _start(handler, 200, "text/event-stream")
                try:
                    for piece in response.iter_raw():
                        for event in decoder.feed(piece):
                            handler.wfile.write(encoder.feed(event.data))
                    for event in decoder.close():
                        handler.wfile.write(encoder.feed(event.data))
                    handler.wfile.write(encoder.close())
                except GatewayError as exc:
                    handler.wfile.write(error_event(exc))
    except GatewayError as exc:
        status, payload = anthropic_error(exc)
        _reply(handler, status, "application/json", payload)


def _start(handler: BaseHTTPRequestHandler, status: int, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("content-type", content_type)
    handler.end_headers()


def _reply(handler: BaseHTTPRequestHandler, status: int, content_type: str, payload: bytes) -> None:
    _start(handler, status, content_type)
    handler.wfile.write(payload)


@pytest.fixture(scope="module")
def simulator() -> Iterator[RunningSimulator]:
    with run_in_thread(SimulatorConfig()) as running:
        yield running


@pytest.fixture(params=sorted(MODELS))
def route(request: pytest.FixtureRequest, simulator: RunningSimulator) -> Iterator[str]:
    """A `/v1/messages` server on 127.0.0.1 whose upstream is one adapter on the simulator."""
    adapter = request.param
    base = simulator.base_url + "/v1" if adapter == "openai" else simulator.base_url
    target = ProviderTarget(
        name=f"{adapter}-sim", adapter=adapter, base_url=base, model=MODELS[adapter], api_key="sk-upstream"
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            _serve_messages(self, target)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key="sk-gateway", max_retries=0, timeout=10)


def test_create_and_stream_with_the_anthropic_sdk(route: str) -> None:
    with _client(route) as client:
        message = client.messages.create(
            model="any", max_tokens=40, system="Be brief.", messages=[{"role": "user", "content": "hello there friend"}]
        )
        with client.messages.stream(
            model="any", max_tokens=40, system="Be brief.", messages=[{"role": "user", "content": "hello there friend"}]
        ) as stream:
            streamed = stream.get_final_message()
    assert message.stop_reason == "end_turn" and message.content[0].type == "text"
    assert streamed.stop_reason == "end_turn"
    assert streamed.content[0].type == "text" and streamed.content[0].text == message.content[0].text
    assert streamed.usage.output_tokens == message.usage.output_tokens > 0


def test_tool_use_round_trip_with_the_anthropic_sdk(route: str) -> None:
    with _client(route) as client:
        first = client.messages.create(
            model="any",
            max_tokens=60,
            tools=[WEATHER],
            tool_choice={"type": "any"},
            messages=[{"role": "user", "content": "weather in Paris?"}],
        )
        tool_use = next(block for block in first.content if block.type == "tool_use")
        with client.messages.stream(
            model="any",
            max_tokens=60,
            tools=[WEATHER],
            tool_choice={"type": "any"},
            messages=[{"role": "user", "content": "weather in Paris?"}],
        ) as stream:
            streamed = stream.get_final_message()
        second = client.messages.create(
            model="any",
            max_tokens=60,
            tools=[WEATHER],
            tool_choice={"type": "none"},
            messages=[
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": first.content},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "18C"}]},
            ],
        )
    assert first.stop_reason == "tool_use" and "city" in tool_use.input
    streamed_tool = next(block for block in streamed.content if block.type == "tool_use")
    assert streamed.stop_reason == "tool_use" and "city" in streamed_tool.input
    assert second.stop_reason == "end_turn"


def test_invalid_request_comes_back_as_anthropic_error(route: str) -> None:
    with _client(route) as client, pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="any", max_tokens=10, messages=[{"role": "user", "content": [{"type": "audio", "data": "x"}]}]
        )
    assert caught.value.status_code == 400
    assert caught.value.body["error"]["type"] == "invalid_request_error"
