"""Relays an opened upstream stream to the client as SSE, chunk by chunk, ending with [DONE] or an error event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from gateway import stream_gates
from gateway.api.errors import gateway_error_body
from gateway.attempts import OpenedStream, wants_usage
from gateway.context import RequestContext
from gateway.errors import ClientCancelled, GatewayError, ProviderError, ProviderStreamError
from gateway.providers.base import StreamEvent
from gateway.recording import finish_request
from gateway.services import Services
from schemas.chat import ChatRequest


def error_event(exc: GatewayError) -> bytes:
    """A terminal SSE event in OpenAI's error shape (never followed by a fake [DONE])."""
    return b"data: " + gateway_error_body(exc) + b"\n\n"


def _absorb(ctx: RequestContext, events: list[StreamEvent]) -> bytes:
    """Fold decoded events into the context (text, usage, finish) and return the bytes for the client."""
    out = b""
    for event in events:
        if event.text:
            ctx.mark_first_token()
            ctx.stream_text.append(event.text)
        if event.usage is not None:
            ctx.usage = event.usage
        if event.finish_reason:
            ctx.finish_reason = event.finish_reason
        if event.response_model:
            ctx.model_served = event.response_model
        if event.response_id and not ctx.stream_id:
            ctx.stream_id = event.response_id
        if event.data:
            out += event.data
    return out


def _remember(services: Services, ctx: RequestContext, opened: OpenedStream) -> None:
    """Store a finished stream's answer in the simple cache when the lookup missed."""
    lookup = ctx.cache_lookup
    if lookup is None or services.cache is None or opened.leaf.cache is None or ctx.guardrail_outcome == "denied":
        return
    body = stream_gates.assembled_completion(ctx, "".join(ctx.stream_text))
    services.cache.store(lookup, msgspec.json.encode(body))


async def _upstream_chunks(opened: OpenedStream, idle_timeout_s: float) -> AsyncIterator[bytes]:
    """Upstream bytes with an idle timeout between chunks (separate from the total deadline).

    Once the upstream answered 200 every failure is a stream failure: a cut or reset connection becomes
    ProviderStreamError (`stream_error`), never a `connect_error` as if the upstream had not been reached.
    """
    assert opened.response is not None
    iterator = opened.response.chunks().__aiter__()
    name = opened.leaf.target.name
    while True:
        try:
            async with asyncio.timeout(idle_timeout_s):
                chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise ProviderStreamError(f"{name} stream idle for more than {idle_timeout_s:g}s",
                                      provider=name) from None
        except ProviderStreamError:
            raise
        except ProviderError as exc:
            raise ProviderStreamError(f"{name} stream broke off: {exc.message}", provider=name) from exc
        yield chunk


def sse_frames(chunk: bytes) -> list[bytes]:
    """A read split after each blank-line event boundary, so a bad frame cannot take earlier good ones with it."""
    if chunk.count(b"\n\n") < 2:
        return [chunk]
    pieces = chunk.split(b"\n\n")
    frames = [piece + b"\n\n" for piece in pieces[:-1]]
    if pieces[-1]:
        frames.append(pieces[-1])
    return frames


async def relay_stream(
    services: Services, ctx: RequestContext, plan: Any, opened: OpenedStream, chat: ChatRequest
) -> AsyncIterator[bytes]:
    """The response body of a streaming request; records the request when it ends, however it ends."""
    ended_normally = False
    try:
        if opened.cached is not None:
            for chunk in opened.cached:
                ctx.mark_first_token()
                yield chunk
            ended_normally = True
            return
        assert opened.decoder is not None
        gate = stream_gates.stream_gate(services, ctx, opened.leaf, include_usage=wants_usage(chat))
        saw_done = False
        async for chunk in _upstream_chunks(opened, services.settings.server.stream_idle_timeout_s):
            ready = b""
            try:
                for frame in sse_frames(chunk):
                    events = opened.decoder.feed(frame)
                    saw_done = saw_done or any(e.done for e in events)
                    out = _absorb(ctx, events)
                    if out:
                        ready += await gate.feed(out, events)
            except GatewayError:
                if ready:  # what the upstream sent before the bad frame still reaches the client
                    yield ready
                raise
            if ready:
                yield ready
        tail = opened.decoder.close()
        saw_done = saw_done or any(e.done for e in tail)
        out = _absorb(ctx, tail)
        if not saw_done:
            raise ProviderStreamError(f"{opened.leaf.target.name} closed the stream before it finished",
                                      provider=opened.leaf.target.name)
        final = await gate.finish(out)
        if final:
            yield final
        ended_normally = True
        _remember(services, ctx, opened)
    except GatewayError as exc:
        ctx.error = exc
        ctx.http_status = exc.http_status
        yield error_event(exc)
    except asyncio.CancelledError:
        ctx.error = ClientCancelled("the client disconnected mid-stream")
        ctx.http_status = 499
        raise
    finally:
        if opened.response is not None:
            await opened.response.close()
        if opened.span is not None and services.telemetry is not None:
            services.telemetry.end_attempt(opened.span, stream_ctx=ctx, error=None if ended_normally else ctx.error)
        finish_request(services, ctx)
