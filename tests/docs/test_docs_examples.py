"""Runs every code example of the user docs: configs are validated, Python and curl run against a real gateway.

Each fenced block in the docs listed in DOC_FILES carries a marker on the line above it:

    <!-- example: KIND [name=...] [config=...] [stage=...] [expect="..."] -->

KIND is one of: server-config (YAML → parse_settings, `portcullis config check`, guardrail chains compiled),
routing-config (JSON/YAML → check_config_file, guardrails compiled), guardrail-chain (a chain for `stage`),
python-gateway (run with the SDKs against a gateway on the demo config), curl-gateway (bash + curl against it),
otel-env (`export OTEL_...` lines resolved by gateway.telemetry.tracing.otlp_target), serve (the named
server-config written to portcullis.yaml, then the shell lines run: `portcullis serve` must answer /healthz),
skip (with a reason). `expect` is a substring the output must contain. The URL http://127.0.0.1:8787 in an
example is replaced by the test gateway's address.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import yaml
from gateway_harness import RunningGateway, free_port, running_gateway

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
DOC_FILES = (
    "index.md", "quickstart.md", "architecture.md", "configuration.md", "headers.md", "guardrails.md",
    "observability.md", "security.md", "migrating-from-portkey.md", "migrating-from-litellm.md",
)
DOC_URL = "http://127.0.0.1:8787"
KINDS = frozenset({"server-config", "routing-config", "guardrail-chain", "python-gateway", "curl-gateway",
                   "otel-env", "serve", "skip"})
CODE_LANGUAGES = frozenset({"python", "sh", "bash", "console", "yaml", "yml", "json"})
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
_MARKER = re.compile(r"^<!-- example: (?P<kind>[a-z-]+)(?P<attrs>.*?)-->\s*$")
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.timeout(120)


class Example(msgspec.Struct, kw_only=True, frozen=True):
    """One fenced code block and its marker."""

    doc: str
    line: int
    lang: str
    kind: str | None
    attrs: dict[str, str]
    code: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{self.kind}"


def _attrs(text: str) -> dict[str, str]:
    return {key: (json.loads(value) if value.startswith('"') else value) for key, value in _ATTR.findall(text)}


def examples(doc: str) -> list[Example]:
    """Every fenced block of one doc with the marker (if any) on the line above it."""
    lines = (DOCS / doc).read_text().splitlines()
    found: list[Example] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].rstrip() != "```":
            body.append(lines[index])
            index += 1
        index += 1
        marker = _MARKER.match(lines[start - 1]) if start > 0 else None
        found.append(Example(doc=doc, line=start + 1, lang=fence.group("lang"),
                             kind=marker.group("kind") if marker else None,
                             attrs=_attrs(marker.group("attrs")) if marker else {}, code="\n".join(body) + "\n"))
    return found


ALL = [example for doc in DOC_FILES if (DOCS / doc).exists() for example in examples(doc)]
RUNNABLE = [example for example in ALL if example.kind not in (None, "skip")]


def named_config(name: str) -> Example:
    matches = [e for e in ALL if e.kind == "server-config" and e.attrs.get("name") == name]
    assert len(matches) == 1, f"server-config name={name} must exist exactly once"
    return matches[0]


# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_gateway(simulator: Any, chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """A gateway on the demo config (`make run`): sim-openai, sim-anthropic, pc-demo-* configs, PII defaults."""
    from gateway.demo import demo_settings

    tmp = tmp_path_factory.mktemp("docs_demo")
    sim_port = int(simulator.base_url.rsplit(":", 1)[1].split("/")[0])
    settings = demo_settings(str(tmp), port=free_port(), simulator_port=sim_port)
    store = msgspec.structs.replace(settings.store, dsn=chdb_dsn, database=f"docs_{uuid.uuid4().hex[:10]}",
                                    spool_dir=str(tmp / "spool"), flush_interval_ms=100)
    settings = msgspec.structs.replace(settings, store=store)
    with running_gateway(settings) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def guardrail_runner() -> Iterator[Any]:
    """The real runner with the real PII engine, to compile every guardrail chain an example shows."""
    from guardrails.pii_engine import PiiEngine
    from guardrails.runner import GuardrailRunner

    engine = PiiEngine(phone_regions=("US", "GB"))
    runner = GuardrailRunner(pii_engine=engine, hash_secret=b"docs-test-secret")
    yield runner
    runner.close()
    engine.close()


# --- checks per kind ------------------------------------------------------------------------------------------------


def compile_chain(runner: Any, value: Any, stage: str) -> None:
    from schemas.guardrails import parse_guardrail_chain

    runner.compile(parse_guardrail_chain(value, stage=stage), stage)  # type: ignore[arg-type]


def compile_config_guardrails(runner: Any, node: Any) -> None:
    """Compile the guardrails of a routing config tree (every node may carry them)."""
    if not isinstance(node, dict):
        return
    for stage in ("input", "output"):
        if node.get(f"{stage}_guardrails"):
            compile_chain(runner, node[f"{stage}_guardrails"], stage)
    for child in node.get("targets") or []:
        compile_config_guardrails(runner, child)


def check_server_config(example: Example, runner: Any, tmp_path: Path) -> None:
    from gateway.lifespan import preflight
    from gateway.routing.schema_file import check_config_file
    from gateway.settings import parse_settings

    settings = parse_settings(example.code, source=example.id)
    path = tmp_path / "portcullis.yaml"
    path.write_text(example.code)
    assert check_config_file(path) == []
    environ = {name: f"docs-test-{name.lower()}-value" for name in re.findall(r"env:([A-Z0-9_]+)", example.code)}
    preflight(settings, environ)  # what `portcullis serve` checks before serving: adapters, secrets, configs
    guardrails = settings.guardrails
    for stage in ("input", "output"):
        chains = [getattr(guardrails, stage)] + [getattr(team, stage) for team in guardrails.teams.values()]
        for chain in chains:
            if chain:
                compile_chain(runner, chain, stage)
    for config in [*settings.configs.values(), *settings.aliases.values()]:
        compile_config_guardrails(runner, config)


def load_block(example: Example) -> Any:
    return json.loads(example.code) if example.lang == "json" else yaml.safe_load(example.code)


def check_routing_config(example: Example, runner: Any, tmp_path: Path) -> None:
    from gateway.routing.schema_file import check_config_file

    path = tmp_path / ("config.json" if example.lang == "json" else "config.yaml")
    path.write_text(example.code)
    assert check_config_file(path) == []
    compile_config_guardrails(runner, load_block(example))


def run_python(example: Example, gateway: RunningGateway) -> str:
    code = example.code.replace(DOC_URL, gateway.root_url)
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env,
                          cwd=ROOT)
    assert done.returncode == 0, f"{example.id} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def run_curl(example: Example, gateway: RunningGateway) -> str:
    code = example.code.replace(DOC_URL, gateway.root_url)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], capture_output=True, text=True, timeout=60,
                          env=env)
    assert done.returncode == 0, f"{example.id} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def exports(code: str) -> dict[str, str]:
    """`export A=1 B="x y"` lines as a mapping (shell quoting rules)."""
    values: dict[str, str] = {}
    for line in code.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith("export "):
            for item in shlex.split(line[len("export "):]):
                name, _, value = item.partition("=")
                values[name] = value
    return values


def check_otel_env(example: Example) -> str:
    from gateway.telemetry.tracing import otlp_target
    from schemas.settings import TelemetrySettings

    environ = exports(example.code)
    assert environ, f"{example.id}: no export lines"
    target = otlp_target("traces", TelemetrySettings(), environ)
    assert target is not None, f"{example.id}: no OTLP trace export configured"
    return json.dumps({"endpoint": target.endpoint, "headers": sorted(target.headers)})


def run_serve(example: Example, tmp_path: Path) -> str:
    """Write the named config, run `portcullis config check`, start `portcullis serve` and wait for /healthz."""
    port = free_port()
    config = named_config(example.attrs["config"]).code.replace("8787", str(port))
    (tmp_path / "portcullis.yaml").write_text(config)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", **exports(example.code),
           "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    output = []
    for line in example.code.splitlines():
        line = line.strip()
        if not line or line.startswith(("export ", "#")):
            continue
        argv = shlex.split(line.replace("8787", str(port)))
        if argv[:2] != ["portcullis", "serve"]:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
            assert done.returncode == 0, f"{example.id}: {line}\n{done.stdout}\n{done.stderr}"
            output.append(done.stdout)
            continue
        process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        output.append("healthz ok")
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            assert output and output[-1] == "healthz ok", f"{example.id}: `{line}` did not come up"
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
    return "\n".join(output)


# --- tests ----------------------------------------------------------------------------------------------------------


def test_docs_every_code_block_is_marked() -> None:
    """A code example without a marker would silently go untested."""
    problems = [f"{e.doc}:{e.line}" for e in ALL if e.lang in CODE_LANGUAGES and e.kind is None]
    problems += [f"{e.doc}:{e.line}: unknown kind {e.kind}" for e in ALL if e.kind and e.kind not in KINDS]
    problems += [f"{e.doc}:{e.line}: skip without a reason" for e in ALL
                 if e.kind == "skip" and "(" not in (DOCS / e.doc).read_text().splitlines()[e.line - 2]]
    assert not problems, "unmarked or badly marked code blocks: " + ", ".join(problems)
    assert len(RUNNABLE) >= 20


@pytest.mark.parametrize("example", [e for e in RUNNABLE if e.kind in ("server-config", "routing-config",
                                                                       "guardrail-chain", "otel-env")],
                         ids=lambda e: e.id)
def test_docs_config_example(example: Example, guardrail_runner: Any, tmp_path: Path) -> None:
    output = ""
    if example.kind == "server-config":
        check_server_config(example, guardrail_runner, tmp_path)
    elif example.kind == "routing-config":
        check_routing_config(example, guardrail_runner, tmp_path)
    elif example.kind == "guardrail-chain":
        compile_chain(guardrail_runner, load_block(example), example.attrs["stage"])
    else:
        output = check_otel_env(example)
    if "expect" in example.attrs:
        assert example.attrs["expect"] in output, f"{example.id}: {example.attrs['expect']!r} not in {output!r}"


@pytest.mark.parametrize("example", [e for e in RUNNABLE if e.kind in ("python-gateway", "curl-gateway")],
                         ids=lambda e: e.id)
def test_docs_gateway_example(example: Example, demo_gateway: RunningGateway) -> None:
    output = run_python(example, demo_gateway) if example.kind == "python-gateway" else run_curl(example, demo_gateway)
    if "expect" in example.attrs:
        assert example.attrs["expect"] in output, f"{example.id}: {example.attrs['expect']!r} not in:\n{output}"


@pytest.mark.parametrize("example", [e for e in RUNNABLE if e.kind == "serve"], ids=lambda e: e.id)
def test_docs_serve_example(example: Example, tmp_path: Path) -> None:
    output = run_serve(example, tmp_path)
    assert "ok" in output
