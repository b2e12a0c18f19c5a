"""create_app: the Litestar application, its routes, error handlers and the lifespan that builds Services."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin

from gateway.api import chat, health, messages, models
from gateway.api.admin import ADMIN_COMPONENTS, admin_router
from gateway.api.errors import handle_gateway_error, handle_http_exception, handle_unexpected
from gateway.errors import GatewayError
from gateway.lifespan import build_services
from gateway.settings import SecretResolver
from schemas.log import AuditRow
from schemas.settings import PortcullisSettings
from ui import build_router

log = logging.getLogger("portcullis")


def build_ui(settings: PortcullisSettings, environ: Mapping[str, str] | None, app_state: dict[str, Any]) -> Any:
    """The /ui router, or None when the UI is disabled or no server secret is set (sessions need one).

    The UI reads the store and writes audit rows through `app_state["services"]`, filled in by the lifespan.
    """
    secret = SecretResolver(os.environ if environ is None else environ)(settings.secret)
    if not settings.ui.enabled:
        return None
    if not secret or len(secret) < 16:
        log.warning("the UI at /ui is off: set `secret` (>= 16 characters, e.g. env:PORTCULLIS_SECRET)")
        return None

    async def query(sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        return await app_state["services"].store.query_async(sql, parameters)

    def audit(row: AuditRow) -> None:
        app_state["services"].writer.submit(row)

    return build_router(settings=settings.ui, query=query, audit=audit, secret=secret,
                        database=settings.store.database)


def create_app(settings: PortcullisSettings, *, environ: Mapping[str, str] | None = None) -> Litestar:
    """Build the gateway app for these settings; long-lived objects are created in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with build_services(settings, environ=environ) as services:
            app.state.services = services
            ui_state["services"] = services
            yield

    ui_state: dict[str, Any] = {}
    ui_router = build_ui(settings, environ, ui_state)
    handlers: list[Any] = [
        chat.chat_completions,
        chat.embeddings,
        messages.messages,
        models.models,
        health.healthz,
        health.readyz,
        health.prometheus_metrics,
        admin_router(),
    ]
    if ui_router is not None:
        handlers.append(ui_router)
    return Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        exception_handlers={
            GatewayError: handle_gateway_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        request_max_body_size=settings.server.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Portcullis admin API", version="1", path="/admin/schema", components=ADMIN_COMPONENTS,
            render_plugins=[ScalarRenderPlugin()],
        ),
        logging_config=None,
        debug=False,
    )
