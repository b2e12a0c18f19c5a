"""Facts about the machine and the code under test, and the busy-machine check run before every cell."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import msgspec

PACKAGES = ("litestar", "uvicorn", "uvloop", "httptools", "httpx", "httpx-aiohttp", "aiohttp", "msgspec",
            "chdb", "clickhouse-connect", "opentelemetry-sdk", "presidio-analyzer", "hdrhistogram")
ROOT = Path(__file__).resolve().parent.parent


class MachineInfo(msgspec.Struct, kw_only=True):
    """What a result depends on: CPU, kernel, Python, package versions and the code's git SHA."""

    date: str
    cpu_model: str
    cpus: int
    kernel: str
    python: str
    packages: dict[str, str]
    git_sha: str
    git_dirty: bool


class LoadState(msgspec.Struct, kw_only=True):
    """How busy the machine was just before a measurement."""

    loadavg_1m: float
    steal_pct: float
    busy: bool


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return ""
    return result.stdout.strip()


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape the gateway's performance."""
    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine_info() -> MachineInfo:
    """Stamp for a result file."""
    return MachineInfo(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        cpu_model=_cpu_model(),
        cpus=os.cpu_count() or 0,
        kernel=platform.release(),
        python=sys.version.split()[0],
        packages=package_versions(),
        git_sha=_git("rev-parse", "HEAD") or "unknown",
        git_dirty=bool(_git("status", "--porcelain", "--untracked-files=no")),
    )


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    steal = fields[7] if len(fields) > 7 else 0
    return sum(fields), steal


def load_state(sample_s: float = 0.5, max_loadavg: float = 0.5, max_steal_pct: float = 5.0) -> LoadState:
    """The 1-minute load average and the steal share over a short sample."""
    total_before, steal_before = _cpu_times()
    time.sleep(sample_s)
    total_after, steal_after = _cpu_times()
    elapsed = max(total_after - total_before, 1)
    steal_pct = 100.0 * (steal_after - steal_before) / elapsed
    loadavg = os.getloadavg()[0]
    return LoadState(loadavg_1m=round(loadavg, 2), steal_pct=round(steal_pct, 2),
                     busy=loadavg > max_loadavg or steal_pct > max_steal_pct)


def wait_until_quiet(max_wait_s: float, *, max_loadavg: float = 0.5) -> LoadState:
    """Wait (bounded) for the machine to be quiet; returns the last state, `busy` set if it never was."""
    deadline = time.monotonic() + max_wait_s
    state = load_state(max_loadavg=max_loadavg)
    while state.busy and time.monotonic() < deadline:
        time.sleep(min(5.0, max(deadline - time.monotonic(), 0.0)))
        state = load_state(max_loadavg=max_loadavg)
    return state
