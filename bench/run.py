"""`python -m bench.run --profile quick|full|...`: run the benchmark matrix and write bench/results/<stamp>.json."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from bench import experiments as ex
from bench.cells import CELLS, SIM_API_KEY, UPSTREAMS, Cell, gateway_config
from bench.loadgen import Endpoint
from bench.machine import ROOT, load_state, machine_info, wait_until_quiet
from bench.peers import INSTALL_HINTS, litellm, peer_installed, portkey
from bench.procs import BenchProcess, free_port, otlp_sink, pin_self, portcullis, simulator
from bench.profiles import PROFILES, Profile
from bench.wrk import wrk_available

RESULTS_DIR = ROOT / "bench" / "results"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BusyMeter:
    """CPU used on the machine by processes other than ours during a step (other tenants, other jobs)."""

    def __init__(self, ours: Callable[[], float]) -> None:
        self._ours = ours
        self._start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
        busy = (sum(fields) - fields[3] - fields[4]) / tick
        return busy, self._ours(), time.monotonic()

    def foreign_cores(self) -> float:
        """Average number of cores used by other processes since the start."""
        busy, ours, now = self._sample()
        elapsed = max(now - self._start[2], 1e-6)
        return round(max((busy - self._start[0]) - (ours - self._start[1]), 0.0) / elapsed, 3)


def _own_cpu(processes: list[BenchProcess]) -> Callable[[], float]:
    def total() -> float:
        times = os.times()
        seconds = times.user + times.system + times.children_user + times.children_system
        for proc in processes:
            with suppress(OSError):
                seconds += proc.cpu_seconds()
        return seconds
    return total


def _step(results: dict[str, Any], key: str, run: Callable[[], Any]) -> None:
    """Run one experiment; a failure is recorded, not raised (the rest of the matrix still runs)."""
    log(f"  {key} ...")
    started = time.monotonic()
    try:
        results[key] = run()
    except Exception as exc:  # a failed experiment is a result
        results[key] = {"error": f"{type(exc).__name__}: {exc}"}
        log(f"  {key} failed: {exc}")
    log(f"  {key} done in {time.monotonic() - started:.0f} s")


def measure_target(name: str, proc: BenchProcess, targets: dict[str, Endpoint], directs: dict[str, Endpoint],
                   profile: Profile, *, prompt_bytes: int, connections: tuple[int, ...], others: list[BenchProcess],
                   ) -> dict[str, Any]:
    """Every experiment of the profile against one running target (a gateway cell or a peer)."""
    meter = BusyMeter(_own_cpu([proc, *others]))
    out: dict[str, Any] = {"prompt_bytes": prompt_bytes}
    ex.warm_up(targets["0ms"], profile.warmup_s, prompt_bytes)
    out["rss_idle_mib"] = round(proc.rss_bytes() / 2**20, 1)
    _step(out, "overhead_c1", lambda: ex.overhead_c1(
        directs["0ms"], targets["0ms"], prompt_bytes=prompt_bytes, rounds=profile.overhead_rounds,
        pairs=profile.overhead_pairs, warmup=profile.overhead_warmup))
    for conns in connections:
        _step(out, f"throughput_c{conns}", lambda c=conns: ex.throughput(
            directs["50ms"], targets["50ms"], proc, connections=c, duration_s=profile.throughput_s,
            reps=profile.reps, prompt_bytes=prompt_bytes))
    _step(out, "cpu", lambda: ex.cpu_cost(targets["0ms"], proc, connections=profile.cpu_connections,
                                          duration_s=profile.cpu_s, reps=profile.reps, prompt_bytes=prompt_bytes))
    if profile.stream_pairs:
        _step(out, "stream_c1", lambda: ex.stream_c1(directs["stream"], targets["stream"],
                                                     pairs=profile.stream_pairs, warmup=2, prompt_bytes=prompt_bytes))
    if name in profile.concurrent_stream_cells or name.startswith("peer-"):
        for streams in profile.concurrent_streams:
            _step(out, f"streams_{streams}", lambda s=streams: ex.streams_concurrent(
                directs["stream"], targets["stream"], streams=s, prompt_bytes=prompt_bytes))
    cpu = out.get("cpu", {})
    if name in profile.open_loop_cells and profile.open_loop_fractions and "rps" in cpu:
        max_rps = cpu["rps"]["median"]
        rates = [round(max_rps * f, 1) for f in profile.open_loop_fractions]
        _step(out, "open_loop", lambda: ex.latency_open_loop(directs["0ms"], targets["0ms"], rates=rates,
                                                             duration_s=profile.open_loop_s,
                                                             prompt_bytes=prompt_bytes))
    out["rss_after_mib"] = round(proc.rss_bytes() / 2**20, 1)
    out["foreign_cores"] = meter.foreign_cores()
    return out


def _gateway_endpoints(port: int) -> dict[str, Endpoint]:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    return {key: Endpoint(name="portcullis", url=url, headers={}, model=model) for key, model in UPSTREAMS.items()}


def run_cell(cell: Cell, profile: Profile, sim_ports: dict[str, int], directs: dict[str, Endpoint],
             otlp_port: int, work: Path, others: list[BenchProcess]) -> dict[str, Any]:
    """A fresh gateway process for the cell, measured, then stopped."""
    data_dir = work / cell.name
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = data_dir / "portcullis.yaml"
    config.write_text(gateway_config(cell, sim_ports=sim_ports, port=port, data_dir=data_dir, otlp_port=otlp_port,
                                     closed_port=free_port()))
    if cell.name in profile.sweep_cells:
        connections = profile.sweep_connections
    elif cell.transport != "aiohttp":
        connections = profile.transport_connections
    else:
        connections = profile.cell_connections
    state = load_state()
    with portcullis(config, port, work / "logs", name=f"portcullis-{cell.name}",
                    ready_path="/healthz" if cell.store_down else "/readyz") as proc:
        result = measure_target(cell.name, proc, _gateway_endpoints(port), directs, profile,
                                prompt_bytes=cell.prompt_bytes, connections=connections, others=others)
    result.update({"description": cell.description, "transport": cell.transport, "load_before": state})
    return result


@contextmanager
def _peer(name: str, sim_ports: dict[str, int], log_dir: Path) -> Iterator[tuple[BenchProcess, dict[str, Endpoint]]]:
    runner = litellm if name == "litellm" else portkey
    with runner(sim_ports, free_port(), log_dir) as started:
        yield started


def simulator_ceiling(direct: Endpoint, seconds: float) -> dict[str, Any]:
    """The simulator's own ceiling at 0 ms (wrk, 64 connections), to prove it is not the bottleneck."""
    from bench.wrk import run_wrk

    result = run_wrk(direct.url, connections=64, duration_s=seconds, prompt_bytes=200, headers=direct.headers,
                     model=direct.model)
    return {"rps": result.rps, "p99_ms": result.p99_ms}


def writer_rows_per_second() -> dict[str, Any]:
    """bench/writer_bench.py (another helper's) as a subprocess on the gateway core; its JSON verbatim."""
    argv = ["taskset", "-c", "1", sys.executable, str(ROOT / "bench" / "writer_bench.py"), "--rows", "20000"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    return msgspec.json.decode(done.stdout[done.stdout.index("{"):])


def run_profile(profile: Profile, *, max_wait_busy_s: float, strict: bool) -> dict[str, Any]:
    """The whole matrix of a profile; returns the result document."""
    if not wrk_available():
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    pin_self(0)
    state = wait_until_quiet(max_wait_busy_s)
    if state.busy and strict:
        raise SystemExit(f"machine busy (loadavg {state.loadavg_1m}, steal {state.steal_pct}%): refusing to run")
    if state.busy:
        log(f"machine busy (loadavg {state.loadavg_1m}, steal {state.steal_pct}%): results are flagged")
    doc: dict[str, Any] = {"profile": profile, "machine": machine_info(), "load_at_start": state,
                           "busy": state.busy, "cells": {}, "peers": {}}
    RESULTS_DIR.joinpath("tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=RESULTS_DIR / "tmp") as tmp, ExitStack() as stack:
        work = Path(tmp)
        logs = work / "logs"
        sims = {
            "0ms": stack.enter_context(simulator(logs)),
            "50ms": stack.enter_context(simulator(logs, latency_ms=50)),
            "stream": stack.enter_context(simulator(logs, ttft_ms=ex.STREAM_TTFT_MS,
                                                    inter_token_ms=ex.STREAM_INTER_TOKEN_MS,
                                                    tokens=ex.STREAM_TOKENS)),
        }
        sink = stack.enter_context(otlp_sink(logs))
        others = [*sims.values(), sink]
        sim_ports = {key: proc.port for key, proc in sims.items()}
        directs = {key: Endpoint(name="direct", url=f"http://127.0.0.1:{port}/v1/chat/completions",
                                 headers={"Authorization": f"Bearer {SIM_API_KEY}"}, model=UPSTREAMS[key])
                   for key, port in sim_ports.items()}
        log("simulator ceiling ...")
        doc["simulator_ceiling"] = simulator_ceiling(directs["0ms"], profile.simulator_ceiling_s)
        for name in profile.cells:
            log(f"cell {name}")
            doc["cells"][name] = run_cell(CELLS[name], profile, sim_ports, directs, sink.port, work, others)
        for name in profile.peers:
            if not peer_installed(name):
                doc["peers"][name] = {"error": f"not installed; install with: {INSTALL_HINTS[name]}"}
                continue
            log(f"peer {name}")
            try:
                with _peer(name, sim_ports, logs) as (proc, endpoints):
                    doc["peers"][name] = measure_target(
                        f"peer-{name}", proc, endpoints, directs, profile, prompt_bytes=200,
                        connections=profile.sweep_connections, others=others)
                    doc["peers"][name]["version"] = peer_version(name)
            except Exception as exc:  # a peer that cannot run is reported
                doc["peers"][name] = {"error": f"{type(exc).__name__}: {exc}"}
        keep = RESULTS_DIR / "tmp" / "last-logs"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(logs, keep, ignore=shutil.ignore_patterns("*.mjs"))
    if profile.writer_bench:
        log("writer bench ...")
        doc["writer"] = writer_rows_per_second()
    return doc


def peer_version(name: str) -> str:
    from bench.peers import PEERS_DIR

    if name == "litellm":
        found = list((PEERS_DIR / "litellm" / "lib").glob("python*/site-packages/litellm-*.dist-info"))
        return found[0].name.removesuffix(".dist-info").split("-")[1] if found else "unknown"
    package = PEERS_DIR / "portkey" / "node_modules" / "@portkey-ai" / "gateway" / "package.json"
    return str(msgspec.json.decode(package.read_bytes()).get("version", "unknown")) if package.exists() else "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--cells", help="comma-separated cells (overrides the profile's)")
    parser.add_argument("--peers", help="comma-separated peers, or 'none' (overrides the profile's)")
    parser.add_argument("--reps", type=int, help="repetitions (overrides the profile's)")
    parser.add_argument("--out", type=Path, help="result file (default bench/results/<stamp>-<profile>.json)")
    parser.add_argument("--strict", action="store_true", help="refuse to run on a busy machine")
    parser.add_argument("--max-wait-busy", type=float, default=20.0, help="seconds to wait for a quiet machine")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    changes: dict[str, Any] = {}
    if args.cells:
        changes["cells"] = tuple(args.cells.split(","))
    if args.peers:
        changes["peers"] = () if args.peers == "none" else tuple(args.peers.split(","))
    if args.reps:
        changes["reps"] = args.reps
    profile = msgspec.structs.replace(profile, **changes)
    unknown = [c for c in profile.cells if c not in CELLS]
    if unknown:
        parser.error(f"unknown cells {unknown}; known: {sorted(CELLS)}")
    doc = msgspec.to_builtins(run_profile(profile, max_wait_busy_s=args.max_wait_busy, strict=args.strict))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS_DIR / f"{stamp}-{profile.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(msgspec.json.format(msgspec.json.encode(doc), indent=1))
    log(f"wrote {out}")
    from bench.summary import print_summary

    print_summary(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
