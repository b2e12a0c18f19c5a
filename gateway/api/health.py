"""GET /healthz (the process serves), GET /readyz (config loaded, store reachable) and GET /metrics."""

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


@get("/metrics")
async def prometheus_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus scrape endpoint (GenAI client metrics, requests, guardrails, writer queue and drops)."""
    telemetry = request.app.state.services.telemetry
    if telemetry is None or telemetry.metrics is None:
        return Response(b"", media_type="text/plain")
    body, content_type = telemetry.metrics.render_prometheus()
    return Response(body, media_type=content_type)
