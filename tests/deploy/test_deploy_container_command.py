"""Run the gateway with the exact command line of the Dockerfile (config path swapped) and stop it with SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from deploy_manifests import (
    CONTAINER_CONFIG_PATH,
    DEPLOY,
    compose_environment,
    container_command,
    gateway_services,
    healthcheck_command,
    interpolate,
)
from gateway_harness import free_port
from otlp_receiver import OtlpReceiver

STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 40.0  # the compose stop_grace_period / k8s grace period budget
_COUNT_ROWS = """
import sys, clickhouse_connect
client = clickhouse_connect.get_client(interface="chdb", path=sys.argv[1])
print(client.query("SELECT count() FROM portcullis.requests WHERE request_id = {id:String}",
                   parameters={"id": sys.argv[2]}).result_rows[0][0])
"""
HOST_VALUES = {"PORTCULLIS_SECRET": "deploy-test-secret-" + "x" * 40, "PORTCULLIS_ADMIN_TOKEN": "a" * 40}


class GatewayProcess:
    """The gateway subprocess and what the test needs to reach and inspect it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, tmp: Path, log: Path,
                 receiver: OtlpReceiver) -> None:
        self.process = process
        self.chdb_path = str(tmp / "clickhouse")
        self.spool = tmp / "spool"
        self.port = port
        self.log = log
        self.receiver = receiver
        self.root_url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _test_config(tmp: Path, port: int, simulator_root: str) -> Path:
    """deploy/portcullis.compose.yaml with loopback addresses, an embedded store and a spool in tmp."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "portcullis.compose.yaml").read_text(encoding="utf-8"))
    for provider in config["providers"].values():
        provider["base_url"] = provider["base_url"].replace("http://simulator:8790", simulator_root)
    config["server"].update(host="127.0.0.1", port=port)
    config["store"].update(dsn=f"chdb://{tmp / 'clickhouse'}", spool_dir=str(tmp / "spool"))
    path = tmp / "portcullis.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _command(config: Path) -> list[str]:
    """The Dockerfile's ENTRYPOINT+CMD, with the venv's console script and the test config path."""
    command = container_command()
    assert CONTAINER_CONFIG_PATH in command
    executable = shutil.which(command[0], path=str(Path(sys.executable).parent))
    assert executable, f"{command[0]} is not installed next to {sys.executable}"
    return [executable, *(str(config) if part == CONTAINER_CONFIG_PATH else part for part in command[1:])]


def _environment(receiver: OtlpReceiver) -> dict[str, str]:
    """gateway-1's compose environment, with the collector swapped for a loopback OTLP receiver."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "PORTCULLIS_"))}
    service = gateway_services()["gateway-1"]
    environ.update({key: interpolate(value, HOST_VALUES) for key, value in compose_environment(service).items()})
    environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    environ["OTEL_BSP_SCHEDULE_DELAY"] = "200"
    return environ


def _wait_status(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gateway exited with {process.returncode} before {url} answered")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError as error:
            last = error
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {timeout_s}s ({last})")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, simulator: Any) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("deploy-cmd")
    port = free_port()
    config = _test_config(tmp, port, simulator.base_url)
    log = tmp / "gateway.log"
    with OtlpReceiver() as receiver, log.open("wb") as log_file:
        process = subprocess.Popen(_command(config), env=_environment(receiver), stdout=log_file,
                                   stderr=subprocess.STDOUT, cwd=tmp)
        try:
            yield GatewayProcess(process, port, tmp, log, receiver)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def test_healthz_and_readyz_answer(gateway: GatewayProcess) -> None:
    _wait_status(f"{gateway.root_url}/healthz", gateway.process, STARTUP_TIMEOUT_S)
    ready = _wait_status(f"{gateway.root_url}/readyz", gateway.process, 30)
    assert ready.json()["status"] == "ready"


def test_the_dockerfile_healthcheck_passes(gateway: GatewayProcess) -> None:
    _wait_status(f"{gateway.root_url}/healthz", gateway.process, STARTUP_TIMEOUT_S)
    command = healthcheck_command()
    assert command[0] == "python"
    probe = [sys.executable, *(part.replace("127.0.0.1:8787", f"127.0.0.1:{gateway.port}") for part in command[1:])]
    assert subprocess.run(probe, timeout=20, check=False).returncode == 0
    closed = [sys.executable, *(part.replace("127.0.0.1:8787", f"127.0.0.1:{free_port()}") for part in command[1:])]
    assert subprocess.run(closed, timeout=20, check=False, capture_output=True).returncode != 0


def test_a_request_is_served_and_its_spans_reach_the_otlp_endpoint(gateway: GatewayProcess) -> None:
    _wait_status(f"{gateway.root_url}/readyz", gateway.process, STARTUP_TIMEOUT_S)
    response = httpx.post(f"{gateway.root_url}/v1/chat/completions", timeout=30,
                          json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 200, response.text
    assert gateway.receiver.wait_for(lambda receiver: len(receiver.spans) > 0, timeout=15), gateway.output()
    services = {span["resource"].get("service.name") for span in gateway.receiver.spans}
    assert services == {"portcullis"}  # OTEL_SERVICE_NAME from compose.yaml


def test_sigterm_drains_the_spool_and_exits_cleanly(gateway: GatewayProcess) -> None:
    """Last in this module: it stops the shared process. A request sent just before SIGTERM must be in ClickHouse."""
    _wait_status(f"{gateway.root_url}/readyz", gateway.process, STARTUP_TIMEOUT_S)
    response = httpx.post(f"{gateway.root_url}/v1/chat/completions", timeout=30,
                          json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "last one"}]})
    request_id = response.headers["x-request-id"]
    gateway.process.send_signal(signal.SIGTERM)
    returncode = gateway.process.wait(timeout=STOP_TIMEOUT_S)
    output = gateway.output()
    # uvicorn re-raises the signal it handled once shutdown is complete, so the status says "SIGTERM".
    assert returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output, output
    assert "Traceback" not in output, output
    assert sorted(path.name for path in gateway.spool.glob("*.seg")) == [], "spool segments were not flushed"
    # The chDB path is free now; read it from a fresh process (one chDB path per process).
    count = subprocess.run([sys.executable, "-c", _COUNT_ROWS, gateway.chdb_path, request_id], timeout=60,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert count == "1"
