"""create_app: the Litestar application, its routes, error handlers and the lifespan that builds Services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.exceptions import HTTPException

from gateway.api import chat, health, messages, models
from gateway.api.errors import handle_gateway_error, handle_http_exception, handle_unexpected
from gateway.errors import GatewayError
from gateway.lifespan import build_services
from schemas.settings import PortcullisSettings

log = logging.getLogger("portcullis")


def create_app(settings: PortcullisSettings, *, environ: Mapping[str, str] | None = None) -> Litestar:
    """Build the gateway app for these settings; long-lived objects are created in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with build_services(settings, environ=environ) as services:
            app.state.services = services
            yield

    handlers: list[Any] = [
        chat.chat_completions,
        chat.embeddings,
        messages.messages,
        models.models,
        health.healthz,
        health.readyz,
        health.prometheus_metrics,
    ]
    return Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        exception_handlers={
            GatewayError: handle_gateway_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        request_max_body_size=settings.server.max_body_bytes,
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
