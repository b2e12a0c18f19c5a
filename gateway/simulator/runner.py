"""Running the simulator: blocking `serve`, and `run_in_thread` for tests and the demo."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec
import uvicorn

from gateway.simulator.app import create_app
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.faults import FaultScript, FaultSpec
from gateway.simulator.recorder import RecordedRequest

_DELIBERATE_CLOSE = "ASGI callable returned without completing response."
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0


class DeliberateCloseFilter(logging.Filter):
    """Drops uvicorn's error line for the connections the `close_after` fault cuts on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _DELIBERATE_CLOSE not in record.getMessage()


def _quiet_deliberate_closes() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, DeliberateCloseFilter) for existing in logger.filters):
        logger.addFilter(DeliberateCloseFilter())


def _uvicorn_config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level=log_level,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )


def serve(config: SimulatorConfig, host: str = "127.0.0.1", port: int = 8790, log_level: str = "warning") -> None:
    """Serve the simulator until interrupted."""
    _quiet_deliberate_closes()
    uvicorn.Server(_uvicorn_config(create_app(config), host, port, log_level)).run()


class RunningSimulator:
    """A simulator served by uvicorn on its own thread and event loop."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, host: str, port: int) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port
        self._client = httpx.Client(base_url=self.base_url, timeout=10.0)

    @property
    def base_url(self) -> str:
        """`http://host:port` (no trailing slash, no `/v1`)."""
        return f"http://{self.host}:{self.port}"

    def requests(self) -> list[RecordedRequest]:
        """Every recorded provider request, oldest first."""
        response = self._client.get("/_sim/requests")
        response.raise_for_status()
        return msgspec.json.decode(response.content, type=list[RecordedRequest])

    def reset(self) -> None:
        """Clear scripted faults and the request record."""
        self._client.post("/_sim/reset").raise_for_status()

    def script(self, faults: list[FaultSpec | None], model: str | None = None) -> int:
        """Queue faults consumed in order by requests for `model` (any if None); returns the queue length."""
        payload = msgspec.json.encode(FaultScript(faults=faults, model=model))
        response = self._client.post("/_sim/script", content=payload)
        response.raise_for_status()
        return int(response.json()["queued"])

    def wait_for(self, count: int, timeout_s: float = 5.0, finished: bool = True) -> list[RecordedRequest]:
        """Poll until at least `count` requests are recorded (and completed, if `finished`); bounded."""
        deadline = time.monotonic() + timeout_s
        while True:
            records = self.requests()
            done = [r for r in records if r.completed_at is not None] if finished else records
            if len(done) >= count or time.monotonic() >= deadline:
                return records
            time.sleep(0.02)

    def stop(self) -> None:
        """Shut the server down and join its thread (bounded)."""
        self._client.close()
        self._server.should_exit = True
        self._thread.join(timeout=_STOP_TIMEOUT_S)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=_STOP_TIMEOUT_S)


def start_in_thread(config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> RunningSimulator:
    """Start the simulator on a background thread; the caller must call `.stop()`."""
    _quiet_deliberate_closes()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(create_app(config), host, bound_port, "warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"simulator-{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() >= deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the simulator did not start")
        time.sleep(0.005)
    return RunningSimulator(server, thread, host, bound_port)


@contextmanager
def run_in_thread(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningSimulator]:
    """Run the simulator for the duration of a `with` block."""
    running = start_in_thread(config, host, port)
    try:
        yield running
    finally:
        running.stop()
