"""Unit checks of the harness parts that need no servers: wrk parsing, percentiles, configs, profiles, py-spy."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from bench.cells import CELLS, gateway_config
from bench.hotspots import aggregate
from bench.loadgen import percentile
from bench.payloads import chat_body, prompt_text, wrk_lua
from bench.profiles import PROFILES
from bench.summary import summary_markdown
from bench.wrk import parse_wrk
from gateway.settings import parse_settings

WRK_OUTPUT = """Running 8s test @ http://127.0.0.1:1/v1/chat/completions
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    52.10ms    1.20ms  80.00ms   90.00%
  9984 requests in 8.00s, 7.74MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:   1248.00
Transfer/sec:      0.97MB
PCTL 50=51234 90=53000 99=61000 99.9=79999
"""


def test_parse_wrk_reads_rate_percentiles_and_errors() -> None:
    result = parse_wrk(WRK_OUTPUT, 64, 8.0)
    assert result.requests == 9984 and result.rps == 1248.0
    assert result.p50_ms == pytest.approx(51.234) and result.p999_ms == pytest.approx(79.999)
    assert result.non_2xx == 3 and result.socket_errors == 3


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([], 50) != percentile([], 50)  # NaN


def test_bodies_are_unique_and_sized() -> None:
    assert len(prompt_text(1024, 1)) == 1024
    first, second = chat_body(200, 1), chat_body(200, 2)
    assert first != second and msgspec.json.decode(first)["model"]
    script = wrk_lua(200, {"x-a": "b"}, "bench-0ms")
    assert 'wrk.headers["x-a"] = "b"' in script and "string.format" in script and "bench-0ms" in script


@pytest.mark.parametrize("name", sorted(CELLS))
def test_every_cell_config_is_a_valid_gateway_config(name: str, tmp_path: Path) -> None:
    text = gateway_config(CELLS[name], sim_ports={"0ms": 1, "50ms": 2, "stream": 3}, port=4, data_dir=tmp_path,
                          otlp_port=5, closed_port=6)
    settings = parse_settings(text, source=name)
    assert settings.server.transport == CELLS[name].transport
    assert (settings.logging.default == "full") == CELLS[name].logging
    assert (settings.telemetry.otlp_endpoint is not None) == CELLS[name].otel
    assert bool(settings.guardrails.input) == CELLS[name].guardrails
    assert settings.store.dsn.startswith("http://") == CELLS[name].store_down


def test_profiles_name_known_cells() -> None:
    for profile in PROFILES.values():
        assert set(profile.cells) <= set(CELLS)
    assert PROFILES["quick"].cells == ("bare", "all-on")


def test_hotspot_aggregation_counts_self_and_inclusive_time() -> None:
    root = str(Path(__file__).resolve().parents[2])
    raw = (f"main (x.py:1);handle ({root}/gateway/pipeline.py:10);loads (json/decoder.py:5) 3\n"
           f"main (x.py:1);handle ({root}/gateway/pipeline.py:10) 1\n")
    own, inclusive, total = aggregate(raw, 5)
    assert total == 4
    assert own[0] == ("loads (json/decoder.py:5)", 3)
    assert inclusive == [("handle (gateway/pipeline.py:10)", 4)]


def test_summary_tolerates_errors() -> None:
    doc = {"machine": {}, "profile": {"name": "x"}, "cells": {"bare": {"overhead_c1": {"error": "boom"}}},
           "peers": {"portkey": {"error": "not installed"}}}
    text = summary_markdown(doc)
    assert "| bare | error |" in text and "peer: portkey" in text
