"""build_router: the /ui Litestar router with its guard, error pages, static files and security headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Response, Router, get
from litestar.datastructures import ResponseHeader
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath

from schemas.ui import UiSettings
from ui import access, pages_reports, pages_traces
from ui.context import SECURITY_HEADERS, AuditCallable, QueryCallable, UiContext

STATIC_DIR = Path(__file__).parent / "static"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def build_router(*, settings: UiSettings, query: QueryCallable, audit: AuditCallable, secret: str,
                 database: str, path: str = "/ui") -> Router:
    """The UI router; mount it on the gateway app (`route_handlers=[..., router]`).

    query: `async (sql, parameters) -> list[tuple]`, a read-only call into the store (e.g. Store.query_async).
    audit: `(AuditRow) -> None`, the append-only audit sink (e.g. LogWriter.submit); it must not block.
    secret: the server secret (signs sessions and CSRF tokens); database: the ClickHouse database name.
    """
    context = UiContext(settings=settings, query=query, audit=audit, secret=secret, database=database,
                        base_path=path)

    def provide_context() -> UiContext:
        return context

    error_page = access.make_error_handler(context)
    assets = {path.name: path.read_bytes() for path in STATIC_DIR.iterdir() if path.suffix in MEDIA_TYPES}

    @get("/static/{name:str}", opt={access.PUBLIC: True}, name="ui_static", sync_to_thread=False)
    def static(name: FromPath[str]) -> Response[bytes]:
        """The vendored htmx and the stylesheet, from memory; nothing else is reachable."""
        if name not in assets:
            raise NotFoundException()
        media_type = MEDIA_TYPES[Path(name).suffix]
        return Response(assets[name], media_type=media_type,
                        headers={**SECURITY_HEADERS, "Cache-Control": "private, max-age=3600"})

    handlers: list[Any] = [
        access.login_form, access.login, access.logout,
        pages_traces.home, pages_traces.traces, pages_traces.trace,
        pages_reports.cost, pages_reports.guardrails, pages_reports.usage, pages_reports.audit,
        static,
    ]
    return Router(
        path=path,
        route_handlers=handlers,
        guards=[access.make_guard(context)],
        dependencies={"ui": Provide(provide_context, sync_to_thread=False)},
        exception_handlers={HTTPException: error_page, Exception: error_page},
        response_headers=[ResponseHeader(name=name, value=value) for name, value in SECURITY_HEADERS.items()],
        include_in_schema=False,
        request_max_body_size=64 * 1024,
    )
