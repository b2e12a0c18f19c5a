"""Output guardrails on streams: `buffer` holds the stream until checks pass, `incremental` checks a sliding
window as text arrives, `post` checks after the end and only records."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from gateway.context import RequestContext
from gateway.errors import GuardrailDenied
from gateway.guarding import GuardrailService, check_context, output_chain, record_outcome
from gateway.providers.base import StreamEvent
from gateway.routing.cache import completion_to_sse_chunks
from gateway.services import Services
from guardrails.outcome import ChainOutcome

_encoder = msgspec.json.Encoder()


class PassThroughGate:
    """No output chain: every byte goes straight through."""

    async def feed(self, data: bytes, events: list[StreamEvent]) -> bytes:
        """Bytes to send now."""
        return data

    async def finish(self, data: bytes) -> bytes:
        """Bytes to send at the end."""
        return data


def assembled_completion(ctx: RequestContext, text: str) -> dict[str, Any]:
    """The stream so far as a chat.completion body, for chain runs and re-synthesis."""
    usage = ctx.usage
    body: dict[str, Any] = {
        "id": ctx.stream_id or f"chatcmpl-{ctx.request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": ctx.model_served or ctx.model_requested,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": ctx.finish_reason or "stop"}],
    }
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                         "total_tokens": usage.input_tokens + usage.output_tokens}
    return body


class PostGate(PassThroughGate):
    """Forward everything; run the chain on the whole answer after the end and record the verdicts only."""

    def __init__(self, services: Services, ctx: RequestContext, chain: Any) -> None:
        self._services, self._ctx, self._chain = services, ctx, chain

    async def finish(self, data: bytes) -> bytes:
        """Check the assembled answer, record, and send the tail unchanged."""
        service: GuardrailService = self._services.guardrails
        body = assembled_completion(self._ctx, "".join(self._ctx.stream_text))
        outcome = await service.runner.run("output", self._chain, body, check_context(self._ctx, "output"))
        self._ctx.output_outcome = outcome
        record_outcome(self._services, self._ctx, outcome)
        return data


class BufferGate:
    """Hold every byte until the chain passed on the whole answer; deny sends `content_filter` instead."""

    def __init__(self, services: Services, ctx: RequestContext, chain: Any, include_usage: bool) -> None:
        self._services, self._ctx, self._chain = services, ctx, chain
        self._held: list[bytes] = []
        self._include_usage = include_usage

    async def feed(self, data: bytes, events: list[StreamEvent]) -> bytes:
        """Hold."""
        self._held.append(data)
        return b""

    async def finish(self, data: bytes) -> bytes:
        """Check, then release the original stream, a redacted re-synthesis, or a content_filter ending."""
        service: GuardrailService = self._services.guardrails
        ctx = self._ctx
        body = assembled_completion(ctx, "".join(ctx.stream_text))
        outcome = await service.runner.run("output", self._chain, body, check_context(ctx, "output"))
        ctx.output_outcome = outcome
        record_outcome(self._services, ctx, outcome)
        if outcome.denied:
            if service.settings.output_deny == "error":
                raise GuardrailDenied(
                    f"the answer was withheld by output guardrails: {', '.join(outcome.denied_by)}",
                    failed_checks=outcome.denied_by,
                )
            ctx.finish_reason = "content_filter"
            withheld = assembled_completion(ctx, "")
            withheld["choices"][0]["message"]["content"] = None
            ctx.stream_text = []
            return b"".join(completion_to_sse_chunks(_encoder.encode(withheld), include_usage=self._include_usage))
        if outcome.body is not None:
            redacted = outcome.body["choices"][0]["message"].get("content") or ""
            ctx.stream_text = [redacted]
            return b"".join(completion_to_sse_chunks(_encoder.encode(outcome.body),
                                                     include_usage=self._include_usage))
        return b"".join(self._held) + data


class IncrementalGate:
    """Check a sliding window as text arrives; only checked text is released; deny cuts the stream."""

    def __init__(self, services: Services, ctx: RequestContext, chain: Any) -> None:
        service: GuardrailService = services.guardrails
        self._services, self._ctx = services, ctx
        self._checker = service.runner.stream_checker(chain, check_context(ctx, "output"))
        self._pending_tail: list[bytes] = []

    def _chunk(self, text: str) -> bytes:
        ctx = self._ctx
        chunk = {"id": ctx.stream_id or f"chatcmpl-{ctx.request_id}", "object": "chat.completion.chunk",
                 "created": int(time.time()), "model": ctx.model_served or ctx.model_requested,
                 "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        return b"data: " + _encoder.encode(chunk) + b"\n\n"

    def _deny(self, denied_by: list[str]) -> GuardrailDenied:
        self._ctx.guardrail_outcome = "denied"
        return GuardrailDenied(f"the answer was cut by output guardrails: {', '.join(denied_by)}",
                               failed_checks=denied_by)

    def _record_window_denial(self, decision: Any) -> None:
        """A window that failed mid-stream is a check run like any other: rows, spans, metrics."""
        outcome = ChainOutcome(stage="output", denied=True, denied_by=list(decision.denied_by),
                               results=list(decision.results))
        self._ctx.output_outcome = outcome
        record_outcome(self._services, self._ctx, outcome)

    async def feed(self, data: bytes, events: list[StreamEvent]) -> bytes:
        """Forward checked text as our own chunks; non-text chunks (role, finish, usage) keep their order."""
        out = b""
        for event in events:
            if event.text:
                decision = await self._checker.feed(event.text)
                if decision.denied:
                    self._record_window_denial(decision)
                    raise self._deny(decision.denied_by)
                if decision.release:
                    out += self._chunk(decision.release)
            elif event.data:
                if event.finish_reason or event.done or event.usage is not None:
                    self._pending_tail.append(event.data)  # after the held-back text
                else:
                    out += event.data
        return out

    async def finish(self, data: bytes) -> bytes:
        """Run the whole chain once more, release the held-back tail, then the finish/usage/[DONE] events."""
        result = await self._checker.finish()
        self._ctx.output_outcome = result.outcome
        record_outcome(self._services, self._ctx, result.outcome)
        if result.outcome.denied:
            raise self._deny(result.outcome.denied_by)
        out = self._chunk(result.release) if result.release else b""
        return out + b"".join(self._pending_tail) + data


def stream_gate(services: Services, ctx: RequestContext, leaf: Any, *, include_usage: bool) -> Any:
    """The gate for this stream's output chain and mode (config's stream_output_mode, else the server's)."""
    chain = output_chain(services, ctx, leaf)
    if chain is None:
        return PassThroughGate()
    service: GuardrailService = services.guardrails
    mode = getattr(leaf, "stream_output_mode", None) or service.settings.stream_output_mode
    if mode == "post":
        return PostGate(services, ctx, chain)
    if mode == "incremental":
        return IncrementalGate(services, ctx, chain)
    return BufferGate(services, ctx, chain, include_usage)
