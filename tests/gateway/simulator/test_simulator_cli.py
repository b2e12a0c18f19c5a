"""The simulator's CLI glue: flags to config, invalid faults, and `python -m gateway.simulator` serving."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.simulator.cli import add_arguments, config_from_args, run
from gateway.simulator.faults import FaultSpec

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_and_flags() -> None:
    defaults = parse()
    assert (defaults.host, defaults.port) == ("127.0.0.1", 8790)
    config = config_from_args(parse("--latency-ms", "5", "--tokens", "4", "--fault", '{"status": 503}'))
    assert config.latency_ms == 5
    assert config.default_tokens == 4
    assert config.fault == FaultSpec(status=503)


def test_invalid_fault_returns_2() -> None:
    assert run(parse("--fault", '{"nope": 1}')) == 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_python_dash_m_serves() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.simulator", "--port", str(port), "--tokens", "2"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        healthy = False
        while time.monotonic() < deadline and not healthy:
            try:
                healthy = httpx.get(f"http://127.0.0.1:{port}/_sim/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                time.sleep(0.05)
        assert healthy
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            headers={"authorization": "Bearer k"},
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
            timeout=5,
        ).json()
        assert reply["usage"]["completion_tokens"] == 2
    finally:
        process.terminate()
        process.communicate(timeout=10)
