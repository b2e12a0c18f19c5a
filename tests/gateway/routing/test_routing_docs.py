"""Every JSON example in docs/config.md resolves, and every YAML server snippet validates."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
from routing_testkit import adapters, make_resolver, make_settings

from gateway.routing.resolve import validate_settings_configs

DOC = Path(__file__).resolve().parents[3] / "docs" / "config.md"
BLOCK = re.compile(r"```(json|yaml)\n(.*?)```", re.DOTALL)


def _blocks(kind: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(DOC.read_text()) if lang == kind]


def test_routing_doc_json_examples_resolve() -> None:
    examples = _blocks("json")
    assert len(examples) >= 5
    resolver = make_resolver()
    for example in examples:
        for portkey in (False, True):
            plan = resolver.resolve(model="gpt-4o", header_value=example, portkey_header=portkey)
            assert plan.leaves(), example


def test_routing_doc_yaml_examples_validate() -> None:
    examples = _blocks("yaml")
    assert examples
    for example in examples:
        fields = msgspec.yaml.decode(example.encode())
        validate_settings_configs(make_settings(**fields), adapters())
