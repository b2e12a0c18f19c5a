"""POST /v1/messages: the Anthropic Messages format in and out, routed through the same pipeline to any provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, post
from litestar.response import Stream

from gateway.errors import GatewayError
from gateway.inbound.anthropic_events import AnthropicEventEncoder
from gateway.inbound.anthropic_messages import anthropic_error, anthropic_message, openai_chat_body
from gateway.ingress import decode_object
from gateway.pipeline import handle_chat


def anthropic_error_response(exc: GatewayError) -> Response[bytes]:
    """A gateway error in Anthropic's error shape."""
    status, content = anthropic_error(exc)
    return Response(content, status_code=status if status != 499 else 400, media_type="application/json")


async def _translate(iterator: AsyncIterator[bytes], model: str) -> AsyncIterator[bytes]:
    encoder = AnthropicEventEncoder(model=model)
    async for chunk in iterator:
        out = encoder.feed(chunk)
        if out:
            yield out
    tail = encoder.close()
    if tail:
        yield tail


@post("/v1/messages", status_code=200)
async def messages(request: Request[Any, Any, Any]) -> Response[Any]:
    """Anthropic Messages API (the official `anthropic` SDK can point here)."""
    services = request.app.state.services
    raw = await request.body()
    try:
        body = openai_chat_body(decode_object(raw))
    except GatewayError as exc:
        return anthropic_error_response(exc)
    response = await handle_chat(services, request, endpoint="messages", body=body, raw=raw,
                                 render_error=anthropic_error_response)
    if isinstance(response, Stream):
        response.iterator = _translate(response.iterator, str(body.get("model", "")))
        return response
    if response.status_code < 400:
        response.content = anthropic_message(response.content)
    return response
