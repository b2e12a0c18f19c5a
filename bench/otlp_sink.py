"""A tiny OTLP/HTTP sink on 127.0.0.1: answers 200 to /v1/traces, /v1/metrics and /v1/logs and counts bytes."""

from __future__ import annotations

import argparse

from aiohttp import web

_EMPTY_EXPORT_RESPONSE = b""  # an empty protobuf Export*ServiceResponse


def build_app() -> web.Application:
    """The sink: every export is read, counted and acknowledged; GET /stats reports the counts."""
    counts = {"requests": 0, "bytes": 0}

    async def export(request: web.Request) -> web.Response:
        body = await request.read()
        counts["requests"] += 1
        counts["bytes"] += len(body)
        return web.Response(body=_EMPTY_EXPORT_RESPONSE, content_type="application/x-protobuf")

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(counts)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", export)
    app.router.add_post("/v1/metrics", export)
    app.router.add_post("/v1/logs", export)
    app.router.add_get("/stats", stats)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(build_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
