"""The experiments, each run against one target (gateway cell or peer) with the direct path as its baseline."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.loadgen import (
    Endpoint,
    concurrent_streams,
    open_loop,
    paired_overhead,
    paired_streams,
    summarise_streams,
)
from bench.payloads import body_factory
from bench.procs import BenchProcess
from bench.wrk import WrkResult, run_wrk

STREAM_TOKENS = 32
STREAM_TTFT_MS = 50.0
STREAM_INTER_TOKEN_MS = 20.0
STALL_MS = 10 * STREAM_INTER_TOKEN_MS


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median with min and max (what every table reports)."""
    clean = [v for v in values if v == v]
    if not clean:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": round(statistics.median(clean), 4), "min": round(min(clean), 4),
            "max": round(max(clean), 4), "n": len(clean)}


def _wrk(endpoint: Endpoint, connections: int, duration_s: float, prompt_bytes: int) -> WrkResult:
    return run_wrk(endpoint.url, connections=connections, duration_s=duration_s, prompt_bytes=prompt_bytes,
                   headers=endpoint.headers, model=endpoint.model)


def overhead_c1(direct: Endpoint, target: Endpoint, *, prompt_bytes: int, rounds: int, pairs: int,
                warmup: int) -> dict[str, Any]:
    """Added latency at c=1: per round p50/p90/p99 of (gateway) minus (direct), paired and interleaved."""
    make = body_factory(prompt_bytes, model=direct.model)
    results = asyncio.run(paired_overhead(direct, target, make, rounds=rounds, pairs_per_round=pairs,
                                          warmup=warmup, time_limit_s=120))
    summary: dict[str, Any] = {"rounds": len(results), "pairs_per_round": pairs, "prompt_bytes": prompt_bytes,
                               "errors": sum(r.errors for r in results)}
    for key in ("p50", "p90", "p99"):
        summary[f"added_{key}_ms"] = spread([r.added_ms[key] for r in results])
        summary[f"paired_diff_{key}_ms"] = spread([r.paired_diff_ms[key] for r in results])
        summary[f"direct_{key}_ms"] = spread([r.direct_ms[key] for r in results])
        summary[f"target_{key}_ms"] = spread([r.gateway_ms[key] for r in results])
    return summary


class RssSampler:
    """Samples a process's RSS every 100 ms on a background thread (bounded by `stop`)."""

    def __init__(self, proc: BenchProcess) -> None:
        self.proc = proc
        self.peak = proc.rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self.proc.rss_bytes())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def throughput(direct: Endpoint, target: Endpoint, proc: BenchProcess, *, connections: int, duration_s: float,
               reps: int, prompt_bytes: int) -> dict[str, Any]:
    """wrk against direct and the target, alternately, `reps` times; ratio = target RPS / direct RPS."""
    runs: list[dict[str, Any]] = []
    with RssSampler(proc) as rss:
        for _ in range(reps):
            direct_run = _wrk(direct, connections, duration_s, prompt_bytes)
            target_run = _wrk(target, connections, duration_s, prompt_bytes)
            runs.append({"direct": direct_run, "target": target_run,
                         "ratio": target_run.rps / direct_run.rps if direct_run.rps else float("nan")})
    return {
        "connections": connections, "duration_s": duration_s, "reps": reps,
        "ratio": spread([r["ratio"] for r in runs]),
        "direct_rps": spread([r["direct"].rps for r in runs]),
        "target_rps": spread([r["target"].rps for r in runs]),
        "target_p50_ms": spread([r["target"].p50_ms for r in runs]),
        "target_p99_ms": spread([r["target"].p99_ms for r in runs]),
        "direct_p99_ms": spread([r["direct"].p99_ms for r in runs]),
        "errors": sum(r["target"].non_2xx + r["target"].socket_errors for r in runs),
        "rss_peak_mib": round(rss.peak / 2**20, 1),
    }


def cpu_cost(target: Endpoint, proc: BenchProcess, *, connections: int, duration_s: float, reps: int,
             prompt_bytes: int) -> dict[str, Any]:
    """CPU-µs per request of the target process (utime+stime from /proc) under wrk, 0 ms upstream."""
    per_request: list[float] = []
    rps: list[float] = []
    errors = 0
    for _ in range(reps):
        before = proc.cpu_seconds()
        run = _wrk(target, connections, duration_s, prompt_bytes)
        used = proc.cpu_seconds() - before
        per_request.append(used * 1e6 / max(run.requests, 1))
        rps.append(run.rps)
        errors += run.non_2xx + run.socket_errors
    return {"connections": connections, "duration_s": duration_s, "reps": reps,
            "cpu_us_per_request": spread(per_request), "rps": spread(rps), "errors": errors,
            "rps_per_core_from_cpu": round(1e6 / statistics.median(per_request), 1) if per_request else None}


def stream_c1(direct: Endpoint, target: Endpoint, *, pairs: int, warmup: int, prompt_bytes: int) -> dict[str, Any]:
    """One stream at a time, interleaved: added time to headers, to first token, and inter-chunk gaps."""
    make = body_factory(prompt_bytes, stream=True, model=direct.model)
    direct_runs, target_runs = asyncio.run(paired_streams(direct, target, make, pairs=pairs, warmup=warmup,
                                                          time_limit_s=120))
    d, t = summarise_streams(direct_runs, STALL_MS), summarise_streams(target_runs, STALL_MS)
    return {"pairs": pairs, "direct": d, "target": t,
            "added_headers_p50_ms": round(t["headers_p50_ms"] - d["headers_p50_ms"], 3),
            "added_ttft_p50_ms": round(t["ttft_p50_ms"] - d["ttft_p50_ms"], 3),
            "added_ttft_p99_ms": round(t["ttft_p99_ms"] - d["ttft_p99_ms"], 3),
            "added_gap_p50_ms": round(t["gap_p50_ms"] - d["gap_p50_ms"], 3),
            "added_gap_p99_ms": round(t["gap_p99_ms"] - d["gap_p99_ms"], 3)}


def streams_concurrent(direct: Endpoint, target: Endpoint, *, streams: int, prompt_bytes: int) -> dict[str, Any]:
    """`streams` concurrent streams direct, then through the target: completion, TTFT, stalls."""
    make = body_factory(prompt_bytes, stream=True, model=direct.model)
    ramp_s = 0.5
    timeout_s = 30.0 + streams * 0.05
    d = summarise_streams(asyncio.run(concurrent_streams(direct, make, streams=streams, ramp_s=ramp_s,
                                                         timeout_s=timeout_s)), STALL_MS)
    t = summarise_streams(asyncio.run(concurrent_streams(target, make, streams=streams, ramp_s=ramp_s,
                                                         timeout_s=timeout_s)), STALL_MS)
    sustained = t["completed"] == streams and t["stalls"] == 0 and t["chunks_p50"] >= d["chunks_p50"]
    return {"streams": streams, "direct": d, "target": t, "sustained": sustained,
            "added_ttft_p50_ms": round(t["ttft_p50_ms"] - d["ttft_p50_ms"], 3),
            "added_ttft_p99_ms": round(t["ttft_p99_ms"] - d["ttft_p99_ms"], 3)}


def latency_open_loop(direct: Endpoint, target: Endpoint, *, rates: Sequence[float], duration_s: float,
                      prompt_bytes: int) -> list[dict[str, Any]]:
    """Fixed arrival rates (open loop, no coordinated omission): added p50/p99 versus direct at each rate."""
    rows: list[dict[str, Any]] = []
    for rate in rates:
        make = body_factory(prompt_bytes, model=direct.model)
        d = asyncio.run(open_loop(direct, make, rate=rate, duration_s=duration_s))
        t = asyncio.run(open_loop(target, make, rate=rate, duration_s=duration_s))
        rows.append({"rate": rate, "direct": d, "target": t, "added_p50_ms": round(t.p50_ms - d.p50_ms, 3),
                     "added_p99_ms": round(t.p99_ms - d.p99_ms, 3)})
    return rows


def warm_up(target: Endpoint, seconds: float, prompt_bytes: int) -> None:
    """A short wrk run so imports, pools and caches are warm before measuring."""
    _wrk(target, 8, seconds, prompt_bytes)


def timed(step: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    return step(), round(time.monotonic() - started, 1)
