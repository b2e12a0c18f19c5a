"""`portcullis demo`: the simulator, the gateway and the embedded store on one machine, with a demo config."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from gateway.server import run_gateway
from gateway.settings import parse_settings
from schemas.settings import PortcullisSettings
from ui import hash_password

_DEMO_CONFIG = """
providers:
  sim-openai:
    adapter: openai
    base_url: http://127.0.0.1:{sim}/v1
    api_key: demo-openai-key
    models: [gpt-4o-mini, gpt-4o]
  sim-anthropic:
    adapter: anthropic
    base_url: http://127.0.0.1:{sim}
    api_key: demo-anthropic-key
    models: [claude-3-5-haiku-latest]
configs:
  pc-demo-fallback:
    strategy: {{mode: fallback}}
    targets:
      - provider: sim-openai
      - provider: sim-anthropic
        override_params: {{model: claude-3-5-haiku-latest}}
  pc-demo-strict:
    provider: sim-openai
    input_guardrails:
      - {{id: regex, action: deny, params: {{patterns: ["(?i)ignore (all|previous) instructions"]}}}}
guardrails:
  input:
    - {{id: pii, action: redact}}
  output:
    - {{id: pii, action: flag}}
server:
  host: 127.0.0.1
  port: {port}
store:
  dsn: chdb://{data}/clickhouse
  spool_dir: {data}/spool
secret: {secret}
ui:
  users:
    admin: {{password_hash: "{admin_hash}", role: admin}}
    auditor: {{password_hash: "{auditor_hash}", role: auditor, teams: [support]}}
"""
DEMO_PASSWORD = "portcullis-demo"


def demo_secret(data_dir: Path) -> str:
    """A server secret kept in the data folder (0600) so sessions and key HMACs survive restarts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def demo_settings(data_dir: str, port: int, simulator_port: int) -> PortcullisSettings:
    """The demo's settings: two simulated providers, one named fallback config, the embedded store."""
    data = Path(data_dir).resolve()
    text = _DEMO_CONFIG.format(sim=simulator_port, port=port, data=data, secret=demo_secret(data),
                               admin_hash=hash_password(DEMO_PASSWORD), auditor_hash=hash_password(DEMO_PASSWORD))
    return parse_settings(text, source="demo config")


def _banner(port: int, data_dir: str) -> str:
    base = f"http://127.0.0.1:{port}"
    return f"""
Portcullis demo is starting.
  API base URL : {base}/v1
  Trace UI     : {base}/ui   (log in as admin / {DEMO_PASSWORD}, or auditor / {DEMO_PASSWORD}: team support only)
  Data         : {Path(data_dir).resolve()} (embedded ClickHouse + spool)

Try it:
  curl -s {base}/v1/chat/completions -H 'content-type: application/json' \\
    -H 'x-portcullis-metadata: {{"feature": "demo"}}' \\
    -d '{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  python - <<'PY'
from openai import OpenAI
client = OpenAI(base_url="{base}/v1", api_key="anything")
print(client.chat.completions.create(model="gpt-4o-mini",
      messages=[{{"role": "user", "content": "Hello!"}}]).choices[0].message.content)
PY
Press Ctrl-C to stop.
"""


def _wait_http(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _send_traffic(port: int) -> None:
    """A little traffic so every page of the UI has something to show."""
    from gateway.demo_traffic import send_demo_traffic

    if _wait_http(f"http://127.0.0.1:{port}/readyz", 60):
        send_demo_traffic(f"http://127.0.0.1:{port}/v1")


def run_demo(*, data_dir: str, port: int, simulator_port: int, traffic: bool) -> int:
    """Start the simulator (subprocess) and serve the gateway in the foreground."""
    settings = demo_settings(data_dir, port, simulator_port)
    simulator = subprocess.Popen(
        [sys.executable, "-m", "gateway.simulator", "--port", str(simulator_port),
         "--ttft-ms", "80", "--inter-token-ms", "15", "--latency-ms", "120"],
    )
    try:
        if not _wait_http(f"http://127.0.0.1:{simulator_port}/_sim/healthz", 20):
            print("portcullis demo: the simulator did not start", file=sys.stderr)
            return 1
        print(_banner(port, data_dir), flush=True)
        if traffic:
            threading.Thread(target=_send_traffic, args=(port,), daemon=True).start()
        return run_gateway(settings, log_level="warning")
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
