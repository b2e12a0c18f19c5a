"""POST /v1/chat/completions: a thin handler over the pipeline."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from gateway.pipeline import handle_chat


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: Request[Any, Any, Any]) -> Response[Any]:
    """OpenAI chat completions, streaming or not."""
    return await handle_chat(request.app.state.services, request)
