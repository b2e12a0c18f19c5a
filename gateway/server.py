"""Runs the gateway under uvicorn (uvloop + httptools, one worker: chDB allows one process per path)."""

from __future__ import annotations

import logging
import signal
import sys

import uvicorn

from gateway.app import create_app
from gateway.lifespan import preflight
from gateway.settings import SettingsError
from schemas.settings import PortcullisSettings


def uvicorn_config(settings: PortcullisSettings, *, host: str | None, port: int | None,
                   log_level: str = "info") -> uvicorn.Config:
    """The uvicorn config the gateway always runs with."""
    return uvicorn.Config(
        create_app(settings),
        host=host or settings.server.host,
        port=port if port is not None else settings.server.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=log_level,
        timeout_keep_alive=75,
        timeout_graceful_shutdown=10,
        server_header=False,
        date_header=False,
    )


def run_gateway(settings: PortcullisSettings, *, host: str | None = None, port: int | None = None,
                log_level: str = "info") -> int:
    """Serve until SIGINT/SIGTERM; a config problem found at start-up exits with status 2."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        preflight(settings)
    except SettingsError as exc:
        print(f"portcullis: {exc}", file=sys.stderr)
        return 2
    server = uvicorn.Server(uvicorn_config(settings, host=host, port=port, log_level=log_level))
    # uvicorn re-raises the signal that stopped it once shutdown is complete; a graceful stop (drained
    # requests, flushed spool) is a clean exit for us, so the re-raised SIGTERM/SIGINT only lands here.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    server.run()
    return 0 if server.started else 1
