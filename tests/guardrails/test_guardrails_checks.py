"""Regex (RE2), JSON Schema and Portkey shorthand configs; text extraction paths."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from guardrails.base import GuardrailConfigError
from guardrails.json_schema import find_json
from guardrails.regex import compile_patterns
from guardrails.runner import GuardrailRunner
from guardrails.text import extract_segments
from schemas.guardrails import (
    CheckContext,
    GuardrailChain,
    GuardrailCheckConfig,
    GuardrailShorthandError,
    parse_guardrail_chain,
)

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def _answer(text: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


def test_guardrails_regex_catastrophic_pattern_is_linear(runner: GuardrailRunner) -> None:
    chain = runner.compile(
        GuardrailChain(
            checks=[GuardrailCheckConfig(id="regex", params={"patterns": ["(a+)+$", "(x+x+)+y"]})]
        ),
        "input",
    )
    body = {"messages": [{"role": "user", "content": "a" * 50_000 + "!" + "x" * 50_000}]}
    started = time.perf_counter()
    outcome = asyncio.run(runner.run("input", chain, body, CheckContext(stage="input")))
    assert time.perf_counter() - started < 5  # a backtracking engine would not finish
    assert outcome.results[0].verdict == "passed"


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=foo)bar", r"(?<=x)y", r"(?!a)b", "(?<name>a)\\k<name>"])
def test_guardrails_regex_rejects_unsupported_constructs(runner: GuardrailRunner, pattern: str) -> None:
    with pytest.raises(GuardrailConfigError) as info:
        runner.compile(
            GuardrailChain(checks=[GuardrailCheckConfig(id="regex", params={"patterns": ["ok", pattern]})]),
            "input",
        )
    assert "params.patterns[1]" in str(info.value) and repr(pattern) in str(info.value)


def test_guardrails_regex_length_cap() -> None:
    with pytest.raises(ValueError, match="longer than 512"):
        compile_patterns(["a" * 513])


def test_guardrails_regex_modes(runner: GuardrailRunner) -> None:
    ctx = CheckContext(stage="input")
    body = {"messages": [{"role": "user", "content": "order ABC-123 and ABC-456"}]}

    def run(params: dict, action: str = "deny"):
        chain = runner.compile(
            GuardrailChain(checks=[GuardrailCheckConfig(id="regex", params=params, action=action)]), "input"
        )
        return asyncio.run(runner.run("input", chain, body, ctx))

    assert run({"patterns": [r"ABC-\d+"]}).denied
    assert run({"patterns": [r"abc-\d+"]}).results[0].verdict == "passed"
    assert run({"patterns": [r"abc-\d+"], "case_sensitive": False}).denied
    assert not run({"patterns": [r"ABC-\d+"], "mode": "must_match"}).denied
    assert run({"patterns": [r"XYZ"], "mode": "must_match"}).denied
    redacted = run({"patterns": [r"ABC-\d+"], "mode": "redact", "replacement": "#"}, action="redact")
    assert redacted.body["messages"][0]["content"] == "order # and #"
    assert [f.start for f in redacted.results[0].findings] == [6, 18]


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ('{"name": "Ann", "age": 3}', True),
        ('Sure! Here it is:\n```json\n{"name": "Ann", "age": 3}\n```\nAnything else?', True),
        ('```\n{"name": "Ann", "age": 3}\n```', True),
        ('Result: {"name": "Ann", "age": 3} done', True),
        ('```json\n{"name": "Ann", "age": "three"}\n```', False),
        ("no json here", False),
    ],
)
def test_guardrails_json_schema(runner: GuardrailRunner, text: str, valid: bool) -> None:
    chain = runner.compile(
        GuardrailChain(checks=[GuardrailCheckConfig(id="json_schema", params={"schema": SCHEMA})]), "output"
    )
    outcome = asyncio.run(runner.run("output", chain, _answer(text), CheckContext(stage="output")))
    assert outcome.denied is not valid
    if "three" in text:
        finding = outcome.results[0].findings[0]
        assert finding.detail == "type at /age" and "three" not in json.dumps(finding.detail)


def test_guardrails_json_schema_rejects_bad_schema(runner: GuardrailRunner) -> None:
    with pytest.raises(GuardrailConfigError, match=r"params\.schema"):
        runner.compile(
            GuardrailChain(
                checks=[GuardrailCheckConfig(id="json_schema", params={"schema": {"type": "nonsense"}})]
            ),
            "output",
        )
    assert find_json("[1, 2]") == (True, [1, 2])


def test_guardrails_portkey_shorthand(runner: GuardrailRunner) -> None:
    chain = parse_guardrail_chain(
        [
            {
                "default.regexMatch": {"rule": r"\b\d{3}-\d{2}-\d{4}\b", "not": True},
                "deny": True,
                "id": "no-ssn",
            },
            {
                "default.wordCount": {"minWords": 1, "maxWords": 400},
                "default.contains": {"words": ["x"]},
                "deny": False,
                "on_fail": {"feedback": {"value": -5, "weight": 1}},
            },
            {"default.regexReplace": {"rule": "secret", "redactText": "***"}},
            {"default.modelWhitelist": {"models": ["gpt-4o"]}, "async": True, "deny": True},
            {
                "default.requiredMetadataKeys": {
                    "metadataKeys": ["team"],
                    "operator": "all",
                    "failOnError": True,
                }
            },
            {"portcullis.pii": {"redact": True, "entities": ["EMAIL_ADDRESS"]}},
        ],
        stage="input",
    )
    got = [(c.id, c.action, c.on_error, c.hook_id, c.name) for c in chain.checks]
    assert got == [
        ("regex", "deny", "open", "no-ssn", "default.regexMatch"),
        ("length", "flag", "open", "input_guardrail_1", "default.wordCount"),
        ("contains", "flag", "open", "input_guardrail_1", "default.contains"),
        ("regex", "redact", "open", "input_guardrail_2", "default.regexReplace"),
        ("model_allowlist", "flag", "open", "input_guardrail_3", "default.modelWhitelist"),
        ("required_metadata", "flag", "closed", "input_guardrail_4", "default.requiredMetadataKeys"),
        ("pii", "redact", "open", "input_guardrail_5", "portcullis.pii"),
    ]
    assert chain.checks[0].params == {"patterns": [r"\b\d{3}-\d{2}-\d{4}\b"], "mode": "must_not_match"}
    assert chain.checks[1].params == {"min_words": 1, "invert": False, "max_words": 400}
    compiled = runner.compile(chain, "input")
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "user", "content": "old 536-80-4398"},
            {"role": "user", "content": "my secret is alice@example.com"},
        ],
    }
    outcome = asyncio.run(
        runner.run(
            "input", compiled, body, CheckContext(stage="input", model="gpt-4o", metadata={"team": "t"})
        )
    )
    assert not outcome.denied  # the SSN is not in the last message (Portkey checks the last message only)
    assert outcome.body["messages"][1]["content"] == "my *** is <EMAIL_ADDRESS>"
    assert [h["id"] for h in outcome.portkey_hooks()][:2] == ["no-ssn", "input_guardrail_1"]


def test_guardrails_native_chain_forms() -> None:
    native = [{"id": "pii", "action": "redact"}, {"id": "length", "params": {"max_words": 5}}]
    assert parse_guardrail_chain(native, stage="input").checks[0].action == "redact"
    assert len(parse_guardrail_chain({"checks": native}, stage="input").checks) == 2


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"default.containsCode": {"format": "SQL"}}], "unsupported Portkey check 'default.containsCode'"),
        ([{"portkey.pii": {"redact": True}}], "unsupported Portkey check 'portkey.pii'"),
        ([{"default.regexMatch": {"not": True}}], "missing parameter 'rule'"),
        ({"nope": 1}, "unknown field"),
    ],
)
def test_guardrails_portkey_shorthand_errors(items: object, message: str) -> None:
    with pytest.raises((GuardrailShorthandError, Exception), match=message):
        parse_guardrail_chain(items, stage="input")


def test_guardrails_text_paths() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "developer", "content": "dev"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a"},
                    {"type": "image_url", "image_url": {}},
                    {"type": "text", "text": "b"},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"function": {"name": "f", "arguments": '{"q": ["x", {"y": "z"}], "ok": true}'}},
                    {"function": {"name": "g", "arguments": "{not json"}},
                ],
            },
            {"role": "tool", "tool_call_id": "1", "content": "result"},
        ],
    }
    segments = extract_segments(body, "input")
    assert [(s.path, s.json_path, s.text) for s in segments] == [
        (("messages", 0, "content"), None, "dev"),
        (("messages", 1, "content", 0, "text"), None, "a"),
        (("messages", 1, "content", 2, "text"), None, "b"),
        (("messages", 2, "tool_calls", 0, "function", "arguments"), ("q", 0), "x"),
        (("messages", 2, "tool_calls", 0, "function", "arguments"), ("q", 1, "y"), "z"),
        (("messages", 2, "tool_calls", 1, "function", "arguments"), None, "{not json"),
        (("messages", 3, "content"), None, "result"),
    ]
    out = {
        "choices": [{"message": {"content": "hi", "tool_calls": [{"function": {"arguments": '{"a": "b"}'}}]}}]
    }
    assert [s.label() for s in extract_segments(out, "output")] == [
        "choices[0].message.content",
        "choices[0].message.tool_calls[0].function.arguments$.a",
    ]
