"""Markdown tables from a result document (printed after a run and pasted into docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "bare": {"added_p50": 1.0, "added_p99": 3.0},
    "all-on": {"added_p50": 2.0, "added_p99": 5.0, "cpu_us": 700.0},
}


def _m(block: Any, key: str, digits: int = 2) -> str:
    """`median (min-max)` of a spread, or the error / a dash."""
    if not isinstance(block, dict):
        return "-"
    if "error" in block:
        return "error"
    value = block.get(key)
    if not isinstance(value, dict):
        return "-" if value is None else f"{value:.{digits}f}"
    if value.get("n", 0) == 0:
        return "-"
    if value["n"] == 1 or value["min"] == value["max"]:
        return f"{value['median']:.{digits}f}"
    return f"{value['median']:.{digits}f} ({value['min']:.{digits}f}-{value['max']:.{digits}f})"


def _v(block: Any, key: str, digits: int = 2) -> str:
    if not isinstance(block, dict) or "error" in block:
        return "error" if isinstance(block, dict) else "-"
    value = block.get(key)
    return "-" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def _targets(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = [(name, cell) for name, cell in doc.get("cells", {}).items()]
    rows += [(f"peer: {name}", peer) for name, peer in doc.get("peers", {}).items()]
    return rows


def overhead_table(doc: dict[str, Any]) -> str:
    lines = ["| target | added p50 ms | added p90 ms | added p99 ms | paired-diff p50 ms | direct p50 ms |",
             "|---|---|---|---|---|---|"]
    for name, cell in _targets(doc):
        block = cell.get("overhead_c1", cell if "error" in cell else None)
        lines.append(f"| {name} | {_m(block, 'added_p50_ms')} | {_m(block, 'added_p90_ms')} | "
                     f"{_m(block, 'added_p99_ms')} | {_m(block, 'paired_diff_p50_ms')} | "
                     f"{_m(block, 'direct_p50_ms')} |")
    return "\n".join(lines)


def throughput_table(doc: dict[str, Any]) -> str:
    lines = ["| target | connections | ratio vs direct | target RPS | direct RPS | target p99 ms | errors | "
             "RSS peak MiB |", "|---|---|---|---|---|---|---|---|"]
    for name, cell in _targets(doc):
        for key in sorted((k for k in cell if k.startswith("throughput_c")), key=lambda k: int(k[12:])):
            block = cell[key]
            lines.append(f"| {name} | {key[12:]} | {_m(block, 'ratio', 3)} | {_m(block, 'target_rps', 0)} | "
                         f"{_m(block, 'direct_rps', 0)} | {_m(block, 'target_p99_ms', 1)} | {_v(block, 'errors')} | "
                         f"{_v(block, 'rss_peak_mib', 1)} |")
    return "\n".join(lines)


def cpu_table(doc: dict[str, Any]) -> str:
    lines = ["| target | CPU-µs per request | RPS (wrk, 0 ms upstream) | RPS per core from CPU | RSS idle MiB | "
             "RSS after MiB | other tenants' CPU (cores) |", "|---|---|---|---|---|---|---|"]
    for name, cell in _targets(doc):
        block = cell.get("cpu", cell if "error" in cell else None)
        lines.append(f"| {name} | {_m(block, 'cpu_us_per_request', 0)} | {_m(block, 'rps', 0)} | "
                     f"{_v(block, 'rps_per_core_from_cpu', 0)} | {_v(cell, 'rss_idle_mib', 1)} | "
                     f"{_v(cell, 'rss_after_mib', 1)} | {_v(cell, 'foreign_cores')} |")
    return "\n".join(lines)


def stream_table(doc: dict[str, Any]) -> str:
    lines = ["| target | streams | added headers p50 ms | added TTFT p50 ms | added TTFT p99 ms | "
             "added gap p99 ms | completed | stalls (>200 ms) | sustained |", "|---|---|---|---|---|---|---|---|---|"]
    for name, cell in _targets(doc):
        block = cell.get("stream_c1")
        if isinstance(block, dict) and "target" in block:
            lines.append(f"| {name} | 1 | {block['added_headers_p50_ms']} | {block['added_ttft_p50_ms']} | "
                         f"{block['added_ttft_p99_ms']} | {block['added_gap_p99_ms']} | "
                         f"{block['target']['completed']}/{block['target']['streams']} | "
                         f"{block['target']['stalls']} | - |")
        elif isinstance(block, dict):
            lines.append(f"| {name} | 1 | error | | | | | | |")
        for key in sorted((k for k in cell if k.startswith("streams_")), key=lambda k: int(k[8:])):
            many = cell[key]
            if "target" not in many:
                lines.append(f"| {name} | {key[8:]} | error | | | | | | |")
                continue
            lines.append(f"| {name} | {key[8:]} | - | {many['added_ttft_p50_ms']} | {many['added_ttft_p99_ms']} | "
                         f"- | {many['target']['completed']}/{many['streams']} | {many['target']['stalls']} | "
                         f"{'yes' if many['sustained'] else 'no'} |")
    return "\n".join(lines)


def open_loop_table(doc: dict[str, Any]) -> str:
    lines = ["| target | rate req/s | added p50 ms | added p99 ms | target p99 ms | dropped | errors |",
             "|---|---|---|---|---|---|---|"]
    for name, cell in _targets(doc):
        rows = cell.get("open_loop")
        if not isinstance(rows, list):
            continue
        for row in rows:
            lines.append(f"| {name} | {row['rate']:.0f} | {row['added_p50_ms']} | {row['added_p99_ms']} | "
                         f"{row['target']['p99_ms']} | {row['target']['dropped']} | {row['target']['errors']} |")
    return "\n".join(lines)


def summary_markdown(doc: dict[str, Any]) -> str:
    machine = doc.get("machine", {})
    ceiling = doc.get("simulator_ceiling", {})
    head = (f"Run {machine.get('date')} on {machine.get('cpu_model')} ({machine.get('cpus')} CPUs), kernel "
            f"{machine.get('kernel')}, Python {machine.get('python')}, git {str(machine.get('git_sha'))[:10]}"
            f"{' (dirty tree)' if machine.get('git_dirty') else ''}; profile `{doc['profile']['name']}`"
            f"{'; **machine busy at start**' if doc.get('busy') else ''}. "
            f"Simulator ceiling (0 ms, 64 connections): {ceiling.get('rps', 0):.0f} req/s.")
    parts = [head, "### Added latency at c=1 (0 ms upstream, paired and interleaved)", overhead_table(doc),
             "### Throughput vs direct (50 ms upstream, wrk)", throughput_table(doc),
             "### CPU per request (0 ms upstream) and memory", cpu_table(doc),
             "### Streaming (32 chunks, TTFT 50 ms, 20 ms apart)", stream_table(doc)]
    if any(isinstance(cell.get("open_loop"), list) for _, cell in _targets(doc)):
        parts += ["### Fixed-rate latency (open loop, 0 ms upstream)", open_loop_table(doc)]
    return "\n\n".join(parts) + "\n"


def print_summary(doc: dict[str, Any]) -> None:
    print(summary_markdown(doc))
