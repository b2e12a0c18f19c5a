"""Durability end to end: gateway subprocesses with ClickHouse down, then SIGKILL, then recovery — every
acknowledged request lands in ClickHouse exactly once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gateway_harness import free_port

pytestmark = pytest.mark.slow

COUNT_SCRIPT = """
import json, sys, clickhouse_connect
client = clickhouse_connect.get_client(interface="chdb", path=sys.argv[1])
rows = client.query("SELECT request_id, count() FROM portcullis.requests GROUP BY request_id").result_rows
print(json.dumps({r[0]: r[1] for r in rows}))
"""


def _config(path: Path, *, dsn: str, spool: Path, port: int, sim_url: str) -> Path:
    path.write_text(f"""
providers:
  sim:
    adapter: openai
    base_url: {sim_url}/v1
    api_key: sk-durability
    models: [gpt-4o-mini]
server:
  port: {port}
store:
  dsn: {dsn}
  spool_dir: {spool}
  flush_interval_ms: 200
""")
    return path


def _start(config: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = config.with_suffix(".log")
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--config", str(config),
                                 "--log-level", "warning"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gateway exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("gateway did not start")


def _send(port: int, count: int, tag: str) -> list[str]:
    ids = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/v1", timeout=10) as client:
        for index in range(count):
            response = client.post("/chat/completions", json={
                "model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"echo: {tag} {index}"}]})
            assert response.status_code == 200, response.text
            ids.append(response.headers["x-request-id"])
    return ids


def _spool_bytes(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    match = re.search(r"^portcullis_writer_spool_bytes\S* (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else -1.0


def test_store_down_then_sigkill_then_recovery_keeps_every_row_exactly_once(simulator, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spool = tmp_path / "spool"
    chdb_path = tmp_path / "clickhouse"
    closed_port = free_port()
    acked: list[str] = []

    port = free_port()  # 1. ClickHouse unreachable: requests are unaffected, rows wait in the spool
    down = _start(_config(tmp_path / "down.yaml", dsn=f"http://127.0.0.1:{closed_port}", spool=spool, port=port,
                          sim_url=simulator.base_url), port)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 503
        acked += _send(port, 20, "down")
    finally:
        down.send_signal(signal.SIGTERM)
        down.wait(timeout=60)
    assert any(spool.iterdir())

    port = free_port()  # 2. ClickHouse back (embedded), then the process is killed without warning
    killed = _start(_config(tmp_path / "up.yaml", dsn=f"chdb://{chdb_path}", spool=spool, port=port,
                            sim_url=simulator.base_url), port)
    try:
        acked += _send(port, 20, "killed")
        time.sleep(0.3)  # past the 10 ms group-commit fsync window of the last acknowledged request
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)

    port = free_port()  # 3. Restart: the spool is replayed into ClickHouse
    survivor = _start(_config(tmp_path / "up2.yaml", dsn=f"chdb://{chdb_path}", spool=spool, port=port,
                              sim_url=simulator.base_url), port)
    try:
        deadline = time.monotonic() + 60
        while _spool_bytes(port) != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _spool_bytes(port) == 0
    finally:
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=60) == 0

    counted = subprocess.run([sys.executable, "-c", COUNT_SCRIPT, str(chdb_path)], capture_output=True,
                             check=True, timeout=120)
    counts = json.loads(counted.stdout)
    assert len(acked) == 40
    assert {request_id: counts.get(request_id, 0) for request_id in acked} == dict.fromkeys(acked, 1)
