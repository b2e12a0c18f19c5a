"""`python -m bench.hotspots --cell all-on`: py-spy (GIL holder only) the gateway under wrk load; its hot spots."""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from bench.cells import CELLS, SIM_API_KEY, UPSTREAMS, gateway_config
from bench.machine import ROOT
from bench.procs import free_port, otlp_sink, pin_self, portcullis, simulator
from bench.wrk import run_wrk

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?):(?P<line>\d+)\)$")


def _short(path: str) -> str:
    root = str(ROOT) + "/"
    if path.startswith(root):
        return path[len(root):]
    marker = "site-packages/"
    return path.split(marker, 1)[1] if marker in path else path


def by_package(collapsed: str) -> list[tuple[str, int]]:
    """Self time by top-level package of the leaf frame (gateway, guardrails, presidio_analyzer, asyncio, ...)."""
    packages: collections.Counter[str] = collections.Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f]
        if not frames or not count_text.isdigit():
            continue
        leaf = _FRAME.match(frames[-1])
        short = _short(leaf["file"]) if leaf else "?"
        packages[short.split("/")[0] if "/" in short else short] += int(count_text)
    return packages.most_common()


def aggregate(collapsed: str, top: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]], int]:
    """(self time by function, inclusive time by our own file:line, total samples) from py-spy's raw output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        leaf = _FRAME.match(frames[-1])
        own[f"{leaf['func']} ({_short(leaf['file'])}:{leaf['line']})" if leaf else frames[-1]] += count
        seen: set[str] = set()
        for frame in frames:
            match = _FRAME.match(frame)
            if not match:
                continue
            short = _short(match["file"])
            if short.startswith(("gateway/", "guardrails/", "schemas/")):
                key = f"{match['func']} ({short}:{match['line']})"
                if key not in seen:
                    seen.add(key)
                    inclusive[key] += count
    return own.most_common(top), inclusive.most_common(top), total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cell", default="all-on", choices=sorted(CELLS))
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy")
    pin_self(0)
    cell = CELLS[args.cell]
    with tempfile.TemporaryDirectory(prefix="bench-hot-") as tmp:
        work = Path(tmp)
        with simulator(work / "logs") as sim, otlp_sink(work / "logs") as sink:
            port = free_port()
            config = work / "portcullis.yaml"
            config.write_text(gateway_config(cell, sim_ports={"0ms": sim.port}, port=port, data_dir=work,
                                             otlp_port=sink.port, closed_port=free_port()))
            with portcullis(config, port, work / "logs", ready_path="/healthz") as gateway:
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                run_wrk(url, connections=8, duration_s=3, prompt_bytes=cell.prompt_bytes, headers={},
                        model=UPSTREAMS["0ms"])
                raw = work / "profile.txt"
                load = threading.Thread(target=run_wrk, args=(url,), kwargs={
                    "connections": args.connections, "duration_s": args.seconds + 2,
                    "prompt_bytes": cell.prompt_bytes, "headers": {"Authorization": f"Bearer {SIM_API_KEY}"},
                    "model": UPSTREAMS["0ms"]}, daemon=True)
                load.start()
                subprocess.run(["taskset", "-c", "0", py_spy, "record", "--pid", str(gateway.pid), "--format", "raw",
                                "--duration", str(int(args.seconds)), "--rate", "250", "--gil", "--output", str(raw)],
                               capture_output=True, timeout=args.seconds + 60, check=False)
                load.join(timeout=args.seconds + 30)
                collapsed = raw.read_text() if raw.exists() else ""
    own, inclusive, total = aggregate(collapsed, args.top)
    print(f"cell {args.cell}: {total} samples")
    print("\n| self time | % of samples |\n|---|---|")
    for name, count in own:
        print(f"| {name} | {100 * count / max(total, 1):.1f} |")
    print("\n| self time by package | % of samples |\n|---|---|")
    for name, count in by_package(collapsed)[: args.top]:
        print(f"| {name} | {100 * count / max(total, 1):.1f} |")
    print("\n| inclusive time in our code | % of samples |\n|---|---|")
    for name, count in inclusive:
        print(f"| {name} | {100 * count / max(total, 1):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
