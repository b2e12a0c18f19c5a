"""GET /healthz (the process serves) and GET /readyz (config loaded and the store reachable)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get


@get("/healthz")
async def healthz() -> Response[bytes]:
    """Liveness."""
    return Response(b'{"status":"ok"}', media_type="application/json")


@get("/readyz")
async def readyz(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Readiness: 200 only when the config is loaded and ClickHouse answers."""
    services = request.app.state.services
    store_ok = True
    if services.store is not None:
        store_ok = await services.store.ping_async()
    ready = services.ready and store_ok
    body = msgspec.json.encode({"status": "ready" if ready else "not_ready", "config": services.ready,
                                "store": store_ok})
    return Response(body, status_code=200 if ready else 503, media_type="application/json")
