"""The feature cells: one gateway config file per cell, switching features by config only."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

SIM_API_KEY = "bench-key"
MODEL = "gpt-4o-mini"
# One simulator per upstream behaviour; the model name picks it (the gateway routes by each provider's models).
UPSTREAMS = {"0ms": "bench-0ms", "50ms": "bench-50ms", "stream": "bench-stream"}

DEFAULT_INPUT_CHAIN = [
    {"id": "pii", "action": "redact"},
    {"id": "regex", "params": {"patterns": [r"\b\d{3}-\d{2}-\d{4}\b", r"(?i)\bsk-[a-z0-9]{20,}\b",
                                            r"AKIA[0-9A-Z]{16}"]}},
    {"id": "length", "params": {"max_tokens": 32_000}},
]


class Cell(msgspec.Struct, kw_only=True, frozen=True):
    """One feature combination of the gateway."""

    name: str
    description: str
    logging: bool = False
    otel: bool = False
    guardrails: bool = False
    store_down: bool = False
    transport: str = "aiohttp"
    prompt_bytes: int = 200


CELLS: dict[str, Cell] = {
    cell.name: cell
    for cell in (
        Cell(name="bare", description="bare proxy: logging off, tracing off, no guardrails"),
        Cell(name="bare-httpx", description="bare proxy on httpx's default transport", transport="httpx"),
        Cell(name="bare-httpx-aiohttp", description="bare proxy on the httpx API over aiohttp (httpx-aiohttp)",
             transport="httpx-aiohttp"),
        Cell(name="logging", description="+ ClickHouse request log (chDB, full bodies)", logging=True),
        Cell(name="otel", description="+ OTel spans to a local OTLP/HTTP sink, Prometheus on", otel=True),
        Cell(name="guardrails-1k", description="+ default input chain (pii redact, regex, length), 1 KB prompt",
             guardrails=True, prompt_bytes=1024),
        Cell(name="guardrails-10k", description="+ default input chain, 10 KB prompt", guardrails=True,
             prompt_bytes=10_240),
        Cell(name="all-on", description="logging + OTel + spans to ClickHouse + default input guardrails (1 KB)",
             logging=True, otel=True, guardrails=True, prompt_bytes=1024),
        Cell(name="all-on-store-down", description="all on, ClickHouse unreachable (http DSN to a closed port)",
             logging=True, otel=True, guardrails=True, store_down=True, prompt_bytes=1024),
    )
}


def _yaml_value(value: object) -> str:
    """JSON is valid YAML: nested values are written as JSON flow style."""
    return json.dumps(value)


def gateway_config(cell: Cell, *, sim_ports: dict[str, int], port: int, data_dir: Path, otlp_port: int | None,
                   closed_port: int | None = None) -> str:
    """The portcullis.yaml text for a cell: one provider per simulator (keyed like UPSTREAMS)."""
    dsn = f"http://127.0.0.1:{closed_port}" if cell.store_down else f"chdb://{data_dir / 'clickhouse'}"
    otlp = f"http://127.0.0.1:{otlp_port}" if cell.otel and otlp_port else None
    lines = ["providers:"]
    for upstream, sim_port in sim_ports.items():
        lines += [
            f"  sim-{upstream}:",
            "    adapter: openai",
            f"    base_url: http://127.0.0.1:{sim_port}/v1",
            f"    api_key: {SIM_API_KEY}",
            f"    models: [{UPSTREAMS[upstream]}]",
        ]
    lines += [
        "server:",
        "  host: 127.0.0.1",
        f"  port: {port}",
        f"  transport: {cell.transport}",
        "  upstream_pool_size: 1024",
        "store:",
        f"  dsn: {_yaml_value(dsn)}",
        f"  spool_dir: {_yaml_value(str(data_dir / 'spool'))}",
        "telemetry:",
        f"  otlp_endpoint: {_yaml_value(otlp)}",
        f"  spans_to_clickhouse: {_yaml_value(cell.logging and cell.otel)}",
        f"  prometheus: {_yaml_value(cell.otel)}",
        "logging:",
        f"  default: {_yaml_value('full' if cell.logging else 'off')}",
        "guardrails:",
        f"  input: {_yaml_value(DEFAULT_INPUT_CHAIN if cell.guardrails else [])}",
    ]
    return "\n".join(lines) + "\n"
