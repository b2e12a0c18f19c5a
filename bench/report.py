"""`python -m bench.report RESULT.json...`: merge result files, draw docs/images/bench_*.png, refresh the tables."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.machine import ROOT
from bench.summary import summary_markdown

DOC = ROOT / "docs" / "benchmarks.md"
IMAGES = ROOT / "docs" / "images"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"


def merge(paths: list[Path]) -> dict[str, Any]:
    """Later files win per cell/peer; machine and profile come from the last file."""
    doc: dict[str, Any] = {"cells": {}, "peers": {}}
    for path in paths:
        part = json.loads(path.read_text())
        doc["cells"].update(part.get("cells", {}))
        doc["peers"].update({k: v for k, v in part.get("peers", {}).items() if "error" not in v
                             or k not in doc["peers"]})
        for key in ("machine", "profile", "simulator_ceiling", "busy", "load_at_start", "writer"):
            if key in part:
                doc[key] = part[key]
    return doc


def _targets(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = list(doc["cells"].items())
    rows += [(f"peer: {name}", peer) for name, peer in doc["peers"].items() if "error" not in peer]
    return rows


def _median(block: Any, key: str) -> float | None:
    if not isinstance(block, dict) or not isinstance(block.get(key), dict):
        return None
    value = block[key].get("median")
    return value if isinstance(value, (int, float)) else None


def plot_throughput(doc: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, cell in _targets(doc):
        points = sorted((int(k[12:]), _median(v, "ratio")) for k, v in cell.items() if k.startswith("throughput_c"))
        points = [(c, r) for c, r in points if r is not None]
        if len(points) > 1:
            ax.plot([c for c, _ in points], [r for _, r in points], marker="o", label=name)
    ax.axhline(0.95, color="grey", linestyle="--", linewidth=1, label="target 0.95")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent connections (wrk), 50 ms upstream")
    ax.set_ylabel("RPS through target / RPS direct")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("Throughput ratio vs direct, one core")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(doc: dict[str, Any], path: Path, title: str, ylabel: str, series: dict[str, Any],
          target_line: float | None = None, log_scale: bool = False) -> None:
    names = [name for name, _ in _targets(doc)]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(series), 1)
    for index, (label, getter) in enumerate(series.items()):
        values = [getter(cell) for _, cell in _targets(doc)]
        ax.bar([i + index * width for i in range(len(names))], [v if v is not None else 0 for v in values],
               width=width, label=label)
    if target_line is not None:
        ax.axhline(target_line, color="grey", linestyle="--", linewidth=1, label=f"target {target_line:g}")
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(names))], names, rotation=30, ha="right",
                  fontsize=8)
    if log_scale:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw(doc: dict[str, Any]) -> list[Path]:
    IMAGES.mkdir(parents=True, exist_ok=True)
    paths = [IMAGES / f"bench_{name}.png" for name in ("throughput", "overhead", "cpu", "ttft")]
    plot_throughput(doc, paths[0])
    _bars(doc, paths[1], "Added latency at c=1 (ms), 0 ms upstream", "ms", {
        "p50": lambda c: _median(c.get("overhead_c1"), "added_p50_ms"),
        "p99": lambda c: _median(c.get("overhead_c1"), "added_p99_ms"),
    }, log_scale=False)
    _bars(doc, paths[2], "CPU-µs per request (0 ms upstream, one core)", "µs", {
        "CPU-µs/request": lambda c: _median(c.get("cpu"), "cpu_us_per_request"),
    }, target_line=700, log_scale=True)
    _bars(doc, paths[3], "Added time to first token, one stream (ms)", "ms", {
        "added TTFT p50": lambda c: (c.get("stream_c1") or {}).get("added_ttft_p50_ms"),
    }, target_line=2)
    return paths


def write_doc(doc: dict[str, Any]) -> None:
    """Replace the generated block of docs/benchmarks.md (between the markers) with fresh tables."""
    block = f"{START}\n{summary_markdown(doc)}\n{END}"
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + block + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--no-doc", action="store_true", help="print the tables instead of editing the doc")
    args = parser.parse_args(argv)
    doc = merge(args.results)
    for path in draw(doc):
        print(f"wrote {path}")
    if args.no_doc:
        print(summary_markdown(doc))
    else:
        write_doc(doc)
        print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
