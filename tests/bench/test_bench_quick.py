"""End-to-end proof that the benchmark harness runs: the `tiny` profile (simulators, a gateway, wrk, asyncio)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.summary import summary_markdown

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None or shutil.which("taskset") is None, reason="needs wrk and taskset")
@pytest.mark.timeout(110)
def test_bench_tiny_profile_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--profile", "tiny", "--out", str(out), "--max-wait-busy", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=100, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["machine"]["git_sha"] and doc["machine"]["python"]
    assert doc["simulator_ceiling"]["rps"] > 0
    bare = doc["cells"]["bare"]
    assert "error" not in bare["overhead_c1"], bare["overhead_c1"]
    assert bare["overhead_c1"]["rounds"] >= 1 and bare["overhead_c1"]["errors"] == 0
    throughput = bare["throughput_c16"]
    assert throughput["errors"] == 0 and throughput["target_rps"]["median"] > 0
    assert bare["cpu"]["cpu_us_per_request"]["median"] > 0
    assert bare["stream_c1"]["target"]["completed"] == bare["stream_c1"]["pairs"]
    assert bare["streams_8"]["target"]["completed"] == 8
    assert bare["rss_idle_mib"] > 0
    assert "### Added latency at c=1" in summary_markdown(doc)
