"""The generated config JSON Schema stays in sync, and `config check` reports problems by field."""

from __future__ import annotations

import json
from pathlib import Path

from routing_testkit import adapters

from gateway.routing.schema_file import SCHEMA_PATH, check_config_file, generate_config_schema


def test_routing_config_schema_has_no_drift() -> None:
    assert SCHEMA_PATH.read_bytes() == generate_config_schema(), (
        "schemas/json/config.schema.json is stale: run `python -m gateway.routing.schema_file`"
    )
    schema = json.loads(SCHEMA_PATH.read_bytes())
    assert schema["$defs"]["ConfigNode"]["additionalProperties"] is False


def test_routing_check_config_file(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"strategy": {"mode": "fallback"}, "targets": [{"provider": "a"}, {"provider": "b"}]}')
    assert check_config_file(good) == []
    bad = tmp_path / "bad.json"
    bad.write_text('{"strategy": {"mode": "fallback"}, "targets": [{"provider": "a", "url": "http://x"}]}')
    (problem,) = check_config_file(bad)
    assert "targets[0].url: unknown field" in problem
    yaml_config = tmp_path / "route.yaml"
    yaml_config.write_text("strategy: {mode: conditional, default: b}\ntargets: [{provider: a, name: a}]\n")
    (problem,) = check_config_file(yaml_config)
    assert "strategy.default" in problem
    server = tmp_path / "portcullis.yaml"
    server.write_text("providers:\n  openai: {adapter: openai}\nconfigs:\n  pc-x: {provider: nothere}\n")
    (problem,) = check_config_file(server, adapters())
    assert "configs.pc-x" in problem and "unknown provider" in problem
    server.write_text("providers:\n  openai: {adapter: openai}\nconfigs:\n  pc-x: {provider: openai}\n")
    assert check_config_file(server, adapters()) == []
    assert check_config_file(tmp_path / "missing.json")[0].endswith("cannot read: No such file or directory")
