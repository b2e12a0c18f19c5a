"""SIGKILL mid-run: every id the writer acknowledged as durable is in ClickHouse exactly once after replay."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("store_sigkill_child.py")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(CHILD.parent), str(Path(__file__).parents[3])])
    return env


@pytest.mark.slow
def test_store_sigkill_loses_no_acknowledged_record(tmp_path: Path) -> None:
    chdb_path, spool_dir = tmp_path / "clickhouse", tmp_path / "spool"
    stderr_path = tmp_path / "producer.stderr"
    acked = flushed = 0
    with open(stderr_path, "w") as stderr, subprocess.Popen(
        [sys.executable, str(CHILD), "produce", str(chdb_path), str(spool_dir)],
        stdout=subprocess.PIPE, stderr=stderr, text=True, env=_env(),
    ) as producer:
        try:
            assert producer.stdout is not None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = producer.stdout.readline()
                if not line:
                    break
                if line.startswith("ACK "):
                    acked, flushed = (int(part) for part in line.split()[1:3])
                    if acked >= 3000 and flushed > 0:
                        break
            time.sleep(random.uniform(0.0, 0.05))  # let it run on: the kill lands mid-fsync or mid-flush
        finally:
            os.kill(producer.pid, signal.SIGKILL)
            producer.wait(10)
    assert acked >= 3000 and flushed > 0, stderr_path.read_text()[-3000:]
    assert any(spool_dir.glob("*.seg")), "the kill should leave segments to replay"

    verifier = subprocess.run([sys.executable, str(CHILD), "verify", str(chdb_path), str(spool_dir), str(acked)],
                              capture_output=True, text=True, env=_env(), timeout=90, check=False)
    assert verifier.returncode == 0, verifier.stderr[-3000:]
    result = json.loads(verifier.stdout.strip().splitlines()[-1])
    assert result["idle"] is True
    assert result["missing_acked"] == 0
    assert result["count"] == result["distinct"] >= acked
