"""Starting, pinning, probing and stopping the processes of a benchmark (simulator, gateway, peers, sinks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GATEWAY_CORE = 1
HARNESS_CORE = 0


class BenchProcess:
    """One child process pinned to a core, with its log file; stopped by its own pid (and process group)."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path, port: int) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self.port = port

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        """utime + stime of the process and its reaped children, from /proc/<pid>/stat."""
        return process_cpu_seconds(self.pid)

    def rss_bytes(self) -> int:
        """Resident set size of the process (VmRSS)."""
        return process_rss_bytes(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM to the process group this process leads, then SIGKILL after `timeout_s`."""
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime (fields 14 and 15 of /proc/<pid>/stat) in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_rss_bytes(pid: int) -> int:
    """VmRSS of a process in bytes (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin_self(core: int = HARNESS_CORE) -> None:
    """Pin the calling process (the load generator) to one core, when the machine has it."""
    if core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def start_process(name: str, argv: Sequence[str], *, core: int, port: int, log_dir: Path,
                  env: dict[str, str] | None = None, cwd: Path | None = None) -> BenchProcess:
    """Start `argv` under `taskset -c core` in its own process group, output to `log_dir/name.log`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    prefix = ["taskset", "-c", str(core)] if core < (os.cpu_count() or 1) else []
    with open(log_path, "wb") as log:
        popen = subprocess.Popen([*prefix, *argv], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)
    return BenchProcess(name, popen, log_path, port)


def wait_ready(proc: BenchProcess, url: str, timeout_s: float, *, method: str = "GET") -> None:
    """Poll `url` until it answers below 500; raise with the log tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            if httpx.request(method, url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.stop()
    raise RuntimeError(f"{proc.name} not ready at {url} within {timeout_s:.0f} s:\n{proc.log_tail()}")


@contextmanager
def simulator(log_dir: Path, *, latency_ms: float = 0.0, ttft_ms: float = 0.0, inter_token_ms: float = 0.0,
              tokens: int = 16) -> Iterator[BenchProcess]:
    """The upstream simulator on core 0."""
    port = free_port()
    argv = [sys.executable, "-m", "gateway.simulator", "--host", "127.0.0.1", "--port", str(port),
            "--latency-ms", str(latency_ms), "--ttft-ms", str(ttft_ms), "--inter-token-ms", str(inter_token_ms),
            "--tokens", str(tokens), "--record-limit", "1"]
    proc = start_process(f"simulator-{port}", argv, core=HARNESS_CORE, port=port, log_dir=log_dir)
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}/_sim/healthz", 30)
        yield proc
    finally:
        proc.stop()


@contextmanager
def otlp_sink(log_dir: Path) -> Iterator[BenchProcess]:
    """The OTLP/HTTP sink (counts requests, answers 200) on core 0."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.otlp_sink", "--port", str(port)]
    proc = start_process(f"otlp-sink-{port}", argv, core=HARNESS_CORE, port=port, log_dir=log_dir)
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}/healthz", 20)
        yield proc
    finally:
        proc.stop()


@contextmanager
def portcullis(config_path: Path, port: int, log_dir: Path, *, name: str = "portcullis",
               startup_timeout_s: float = 90.0, ready_path: str = "/readyz") -> Iterator[BenchProcess]:
    """A fresh gateway process on core 1 serving `config_path`."""
    argv = [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config_path), "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]
    proc = start_process(name, argv, core=GATEWAY_CORE, port=port, log_dir=log_dir)
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}{ready_path}", startup_timeout_s)
        yield proc
    finally:
        proc.stop()
