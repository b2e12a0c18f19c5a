"""Closed-loop throughput with wrk (C + LuaJIT, pinned to the harness core), parsed into a result Struct."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import msgspec

from bench.payloads import wrk_lua
from bench.procs import HARNESS_CORE


class WrkResult(msgspec.Struct, kw_only=True):
    """One wrk run: completed requests, rate, latency percentiles (ms) and errors."""

    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    non_2xx: int
    socket_errors: int


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def parse_wrk(output: str, connections: int, duration_s: float) -> WrkResult:
    """Read the numbers out of wrk's text output (with the PCTL line our Lua `done` writes, in µs)."""
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    pctl = dict(re.findall(r"(\d+(?:\.\d+)?)=(\d+)", output.split("PCTL", 1)[1].splitlines()[0]))
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(v) for v in socket_match.groups()) if socket_match else 0
    return WrkResult(
        connections=connections, duration_s=duration_s, requests=requests, rps=rps,
        p50_ms=int(pctl["50"]) / 1000, p90_ms=int(pctl["90"]) / 1000, p99_ms=int(pctl["99"]) / 1000,
        p999_ms=int(pctl["99.9"]) / 1000,
        non_2xx=int(non_2xx_match.group(1)) if non_2xx_match else 0, socket_errors=socket_errors,
    )


def run_wrk(url: str, *, connections: int, duration_s: float, prompt_bytes: int, headers: dict[str, str],
            model: str, timeout_s: float = 10.0) -> WrkResult:
    """`wrk -t1 -cC -dD --latency -s post.lua URL` on the harness core."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(wrk_lua(prompt_bytes, headers, model))
        prefix = ["taskset", "-c", str(HARNESS_CORE)] if (os.cpu_count() or 1) > HARNESS_CORE else []
        argv = [*prefix, "wrk", "-t1", f"-c{connections}", f"-d{duration_s:g}s", f"--timeout={timeout_s:g}s",
                "-s", str(script), url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + timeout_s + 30,
                              check=False)
    if done.returncode != 0 or "PCTL" not in done.stdout:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout, connections, duration_s)
