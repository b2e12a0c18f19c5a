"""The simulator's raw ASGI application: routing, per-request settings, faults, control endpoints."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import msgspec

from gateway.simulator.anthropic_wire import AnthropicWire
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.content import Prompt, Tuning, build_reply
from gateway.simulator.exchange import JSON_TYPE, ErrorShapes, Exchange, Receive, Send, Timing, WireError
from gateway.simulator.faults import FaultQueues, FaultSpec, decode_fault, decode_script
from gateway.simulator.gemini_wire import GeminiWire
from gateway.simulator.openai_wire import OpenAIWire
from gateway.simulator.recorder import RecordedRequest, Recorder

_GEMINI_METHODS = {
    "generateContent": "gemini.generate",
    "streamGenerateContent": "gemini.stream",
    "embedContent": "gemini.embed",
    "batchEmbedContents": "gemini.batch_embed",
}
_AZURE_PREFIX = "/openai/deployments/"
_GEMINI_PREFIXES = ("/v1beta/models/", "/v1/models/")


class Route(msgspec.Struct, frozen=True):
    """Which provider operation a request is, and the model named by the path (Azure, Gemini)."""

    operation: str
    path_model: str | None = None


def route_for(method: str, path: str) -> Route | None:
    """Map a method and path to a provider operation, or None when nothing serves it."""
    if method == "POST" and path == "/v1/chat/completions":
        return Route("openai.chat")
    if method == "POST" and path == "/v1/messages":
        return Route("anthropic.messages")
    if method == "POST" and path == "/v1/embeddings":
        return Route("openai.embeddings")
    if method == "GET" and path == "/v1/models":
        return Route("openai.models")
    if method == "POST" and path.startswith(_AZURE_PREFIX):
        deployment, _, operation = path[len(_AZURE_PREFIX) :].partition("/")
        if deployment and operation == "chat/completions":
            return Route("azure.chat", deployment)
        if deployment and operation == "embeddings":
            return Route("azure.embeddings", deployment)
    if method == "POST" and path.startswith(_GEMINI_PREFIXES):
        model, _, verb = path.split("/models/", 1)[1].rpartition(":")
        if model and verb in _GEMINI_METHODS:
            return Route(_GEMINI_METHODS[verb], model)
    return None


def _header_number(headers: dict[str, str], name: str, default: float) -> float:
    raw = headers.get(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise WireError(400, f"{name} must be a number") from None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class SimulatorApp:
    """ASGI callable simulating OpenAI, Azure OpenAI, Anthropic and Gemini upstreams."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.recorder = Recorder(config.record_limit)
        self.queues = FaultQueues()
        self.openai = OpenAIWire()
        self.anthropic = AnthropicWire()
        self.gemini = GeminiWire()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        body = await _read_body(receive)
        if path.startswith("/_sim/"):
            await self._control(method, path, body, Exchange(receive, send, None))
            return
        route = route_for(method, path)
        shapes: ErrorShapes = self.gemini if path.startswith("/v1beta/") else self.openai
        if route is None:
            await Exchange(receive, send, None).error(shapes, WireError(404, f"Unknown path {method} {path}"))
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        query = scope["query_string"].decode("latin-1")
        record = self.recorder.start(method, path, query, headers)
        exchange = Exchange(receive, send, record)
        try:
            await self._serve(route, headers, query, body, record, exchange)
        finally:
            exchange.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _shapes(self, operation: str) -> Any:
        if operation.startswith("anthropic"):
            return self.anthropic
        if operation.startswith("gemini"):
            return self.gemini
        return self.openai

    def _fault_for(self, headers: dict[str, str], model: str | None) -> FaultSpec | None:
        raw = headers.get("x-sim-fault")
        if raw:
            try:
                return decode_fault(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                raise WireError(400, f"x-sim-fault: {error}") from None
        found, fault = self.queues.take(model)
        return fault if found else self.config.fault

    async def _serve(
        self,
        route: Route,
        headers: dict[str, str],
        query: str,
        body: bytes,
        record: RecordedRequest,
        exchange: Exchange,
    ) -> None:
        wire = self._shapes(route.operation)
        try:
            parsed = msgspec.json.decode(body) if body else None
        except msgspec.DecodeError:
            parsed = None
            if route.operation != "openai.models":
                record.body = body.decode("utf-8", "replace")
                await exchange.error(wire, WireError(400, "The request body is not valid JSON."))
                return
        record.body = parsed
        model = route.path_model or (parsed.get("model") if isinstance(parsed, dict) else None)
        record.model = model if isinstance(model, str) else None
        record.stream = route.operation == "gemini.stream" or (
            isinstance(parsed, dict) and parsed.get("stream") is True
        )
        try:
            fault = self._fault_for(headers, record.model)
            record.fault = fault
            if fault is not None and fault.hang and await exchange.wait(fault.hang):
                return
            if fault is not None and fault.status is not None and fault.error_event_after is None:
                message = fault.message or f"Simulated upstream error {fault.status}."
                await exchange.error(wire, WireError(fault.status, message, fault.error_type), fault)
                return
            await self._operation(route, headers, parse_qs(query), parsed, exchange, fault)
        except WireError as error:
            await exchange.error(wire, error)

    async def _operation(
        self,
        route: Route,
        headers: dict[str, str],
        query: dict[str, list[str]],
        body: Any,
        exchange: Exchange,
        fault: FaultSpec | None,
    ) -> None:
        operation = route.operation
        config = self.config
        if operation in ("openai.chat", "azure.chat"):
            azure = operation == "azure.chat"
            self.openai.check_auth(headers, azure, query)
            prompt = self.openai.parse_chat(body, route.path_model)
            await self._reply(self.openai, prompt, headers, exchange, fault)
        elif operation == "anthropic.messages":
            self.anthropic.check_auth(headers)
            prompt = self.anthropic.parse_messages(body)
            await self._reply(self.anthropic, prompt, headers, exchange, fault)
        elif operation in ("gemini.generate", "gemini.stream"):
            self.gemini.check_auth(headers, query)
            prompt = self.gemini.parse_generate(body, route.path_model or "", operation == "gemini.stream")
            sse = query.get("alt", [""])[0] == "sse"
            await self._reply(self.gemini, prompt, headers, exchange, fault, sse=sse)
        elif operation in ("openai.embeddings", "azure.embeddings"):
            self.openai.check_auth(headers, operation == "azure.embeddings", query)
            data = self.openai.embeddings_body(body, route.path_model, config.embedding_dimensions, config.seed)
            await self._non_stream(data, headers, exchange)
        elif operation == "openai.models":
            self.openai.check_auth(headers, False, query)
            await exchange.respond(200, self.openai.models_body(config.models))
        else:
            self.gemini.check_auth(headers, query)
            if operation == "gemini.embed":
                data = self.gemini.embed_body(body, config.embedding_dimensions, config.seed)
            else:
                data = self.gemini.batch_embed_body(body, config.embedding_dimensions, config.seed)
            await self._non_stream(data, headers, exchange)

    async def _non_stream(self, data: bytes, headers: dict[str, str], exchange: Exchange) -> None:
        latency = _header_number(headers, "x-sim-latency-ms", self.config.latency_ms)
        if latency > 0 and await exchange.wait(latency / 1000.0):
            return
        await exchange.respond(200, data, JSON_TYPE)

    async def _reply(
        self,
        wire: Any,
        prompt: Prompt,
        headers: dict[str, str],
        exchange: Exchange,
        fault: FaultSpec | None,
        sse: bool = True,
    ) -> None:
        tokens = headers.get("x-sim-tokens")
        tuning = Tuning(
            tokens=int(_header_number(headers, "x-sim-tokens", 0)) if tokens is not None else None,
            cached_tokens=int(_header_number(headers, "x-sim-cached-tokens", 0)),
            reasoning_tokens=int(_header_number(headers, "x-sim-reasoning-tokens", 0)),
        )
        reply = build_reply(prompt, self.config.default_tokens, self.config.seed, tuning)
        if not prompt.stream:
            if wire is self.anthropic:
                data = wire.message_body(reply, prompt)
            elif wire is self.gemini:
                data = wire.generate_body(reply, prompt)
            else:
                data = wire.chat_body(reply, prompt)
            await self._non_stream(data, headers, exchange)
            return
        timing = Timing(
            ttft_ms=_header_number(headers, "x-sim-ttft-ms", self.config.ttft_ms),
            inter_token_ms=_header_number(headers, "x-sim-inter-token-ms", self.config.inter_token_ms),
        )
        if wire is self.anthropic:
            frames = wire.message_frames(reply, prompt)
        elif wire is self.gemini:
            frames = wire.generate_frames(reply, prompt, sse)
        else:
            frames = wire.chat_frames(reply, prompt)
        content_type = b"text/event-stream; charset=utf-8" if sse else JSON_TYPE
        await exchange.stream(frames, wire, timing, fault, content_type)

    async def _control(self, method: str, path: str, body: bytes, exchange: Exchange) -> None:
        if method == "GET" and path == "/_sim/healthz":
            await exchange.respond(200, b'{"status":"ok"}')
        elif method == "GET" and path == "/_sim/requests":
            await exchange.respond(200, self.recorder.encode())
        elif method == "GET" and path == "/_sim/script":
            await exchange.respond(200, msgspec.json.encode({"pending": self.queues.pending()}))
        elif method == "POST" and path == "/_sim/script":
            try:
                script = decode_script(body)
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                await exchange.error(self.openai, WireError(400, f"invalid script: {error}"))
                return
            queued = self.queues.add(script)
            await exchange.respond(200, msgspec.json.encode({"queued": queued, "pending": self.queues.pending()}))
        elif method == "POST" and path == "/_sim/reset":
            self.queues.clear()
            self.recorder.clear()
            await exchange.respond(200, b'{"status":"ok"}')
        else:
            await exchange.error(self.openai, WireError(404, f"Unknown control path {method} {path}"))


def create_app(config: SimulatorConfig | None = None) -> SimulatorApp:
    """Build the simulator's ASGI application."""
    return SimulatorApp(config or SimulatorConfig())
