"""POST /v1/chat/completions and /v1/embeddings: thin handlers over the pipeline."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from gateway.embeddings import handle_embeddings
from gateway.pipeline import handle_chat


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: Request[Any, Any, Any]) -> Response[Any]:
    """OpenAI chat completions, streaming or not."""
    return await handle_chat(request.app.state.services, request)


@post("/v1/embeddings", status_code=200)
async def embeddings(request: Request[Any, Any, Any]) -> Response[Any]:
    """OpenAI embeddings."""
    return await handle_embeddings(request.app.state.services, request)
