"""The peers measured on the same rig: LiteLLM's proxy (Python) and Portkey's gateway (Node), each on core 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.cells import SIM_API_KEY, UPSTREAMS
from bench.loadgen import Endpoint
from bench.procs import GATEWAY_CORE, BenchProcess, start_process, wait_ready

PeerEndpoints = dict[str, Endpoint]  # upstream key (see UPSTREAMS) -> endpoint
PEERS_DIR = Path(__file__).resolve().parent / ".peers"
LITELLM_BIN = PEERS_DIR / "litellm" / "bin" / "litellm"
PORTKEY_DIR = PEERS_DIR / "portkey"
PORTKEY_SERVER = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"

# Portkey's start-server.js listens on every interface; this preload binds it to 127.0.0.1 only.
_PORTKEY_LOOPBACK = """import net from "node:net";
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number") { args.splice(1, 0, "127.0.0.1"); }
  else if (args[0] && typeof args[0] === "object" && !args[0].host) { args[0].host = "127.0.0.1"; }
  return listen.apply(this, args);
};
await import(process.env.PORTKEY_SERVER);
"""

LITELLM_MASTER_KEY = "sk-bench-7f3c1e9a52d04b8c9e6a1f2b3c4d5e6f"  # loopback-only benchmark key

INSTALL_HINTS = {
    "litellm": "python3 -m venv bench/.peers/litellm && bench/.peers/litellm/bin/pip install 'litellm[proxy]'",
    "portkey": "cd bench/.peers/portkey && npm init -y && npm install @portkey-ai/gateway",
}


def peer_installed(name: str) -> bool:
    return (LITELLM_BIN if name == "litellm" else PORTKEY_SERVER).exists()


def litellm_config(sim_ports: dict[str, int]) -> str:
    """One OpenAI-compatible deployment per simulator; no database (so no spend log)."""
    models = "".join(f"""  - model_name: {UPSTREAMS[upstream]}
    litellm_params:
      model: openai/{UPSTREAMS[upstream]}
      api_base: http://127.0.0.1:{port}/v1
      api_key: {SIM_API_KEY}
""" for upstream, port in sim_ports.items())
    return f"""model_list:
{models}litellm_settings:
  drop_params: true
  telemetry: false
general_settings: {{}}
"""


@contextmanager
def litellm(sim_ports: dict[str, int], port: int, log_dir: Path) -> Iterator[tuple[BenchProcess, PeerEndpoints]]:
    """LiteLLM's proxy, one worker, on the gateway core."""
    config = log_dir / "litellm.yaml"
    config.write_text(litellm_config(sim_ports))
    argv = [str(LITELLM_BIN), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
            "--num_workers", "1"]
    proc = start_process("litellm", argv, core=GATEWAY_CORE, port=port, log_dir=log_dir,
                         env={"LITELLM_MASTER_KEY": LITELLM_MASTER_KEY, "LITELLM_LOG": "ERROR",
                              "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "true"})
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}/health/liveliness", 180)
        yield proc, {upstream: Endpoint(name="litellm", url=f"http://127.0.0.1:{port}/v1/chat/completions",
                                        headers={"Authorization": f"Bearer {LITELLM_MASTER_KEY}"},
                                        model=UPSTREAMS[upstream]) for upstream in sim_ports}
    finally:
        proc.stop()


@contextmanager
def portkey(sim_ports: dict[str, int], port: int, log_dir: Path) -> Iterator[tuple[BenchProcess, PeerEndpoints]]:
    """Portkey's open-source gateway under node, headless, bound to 127.0.0.1."""
    boot = log_dir / "portkey-loopback.mjs"
    boot.write_text(_PORTKEY_LOOPBACK)
    argv = ["node", str(boot), f"--port={port}", "--headless"]
    proc = start_process("portkey", argv, core=GATEWAY_CORE, port=port, log_dir=log_dir, cwd=PORTKEY_DIR,
                         env={"PORTKEY_SERVER": str(PORTKEY_SERVER), "NODE_ENV": "production"})
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}/", 60)
        yield proc, {upstream: Endpoint(
            name="portkey", url=f"http://127.0.0.1:{port}/v1/chat/completions",
            headers={"Authorization": f"Bearer {SIM_API_KEY}", "x-portkey-provider": "openai",
                     "x-portkey-custom-host": f"http://127.0.0.1:{sim_port}/v1"},
            model=UPSTREAMS[upstream],
        ) for upstream, sim_port in sim_ports.items()}
    finally:
        proc.stop()
