"""Runs the real gateway under uvicorn on a free loopback port in a background thread, for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from gateway.app import create_app
from schemas.settings import PortcullisSettings


class RunningGateway:
    """A gateway serving on 127.0.0.1; `base_url` ends in /v1 for the OpenAI SDK."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, port: int) -> None:
        self.server = server
        self.thread = thread
        self.port = port
        self.root_url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root_url}/v1"

    @property
    def services(self):  # type: ignore[no-untyped-def]
        """The live Services object (for tests that inspect the writer or store)."""
        return self.server.config.loaded_app.app.state.services  # type: ignore[union-attr]


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_gateway(
    settings: PortcullisSettings, *, environ: Mapping[str, str] | None = None, startup_timeout_s: float = 30.0
) -> Iterator[RunningGateway]:
    """Start the gateway, wait for /healthz, yield it, and shut it down (lifespan shutdown included)."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, environ=environ),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"gateway-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("gateway did not start (see log above)")
        time.sleep(0.02)
    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).raise_for_status()
    try:
        yield RunningGateway(server, thread, port)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_rows(gateway: RunningGateway, sql: str, params: dict[str, Any], expected: int = 1,
              timeout_s: float = 15.0) -> list[Any]:
    """Flush the gateway's writer and poll ClickHouse until `expected` rows match (bounded); the rows found."""
    services = gateway.services
    deadline = time.monotonic() + timeout_s
    rows: list[Any] = []
    while time.monotonic() < deadline:
        services.writer.flush_now()
        rows = services.store.query(sql, params)
        if len(rows) >= expected:
            return rows
        time.sleep(0.1)
    return rows
