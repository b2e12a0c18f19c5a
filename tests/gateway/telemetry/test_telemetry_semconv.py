"""GenAI semantic-convention mapping: names, attribute sets, content capture, and who may spell gen_ai.*."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import msgspec
import pytest

from gateway.telemetry import content
from gateway.telemetry import semconv as sc

TELEMETRY = Path(sc.__file__).parent


class Usage(msgspec.Struct, kw_only=True):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


def test_telemetry_span_names() -> None:
    assert sc.span_name("chat", "gpt-4o") == "chat gpt-4o"
    assert sc.span_name("embeddings", "") == "embeddings"
    assert sc.server_span_name("POST", "/v1/chat/completions") == "POST /v1/chat/completions"


def test_telemetry_attempt_start_attributes() -> None:
    params = {"max_tokens": 100, "temperature": 0, "top_p": 0.9, "stop": "END", "seed": 7, "n": 2,
              "frequency_penalty": 0.1, "presence_penalty": -0.2, "stream": True,
              "response_format": {"type": "json_schema"}, "messages": [{"role": "user", "content": "hi"}]}
    attrs = sc.attempt_start_attributes("chat", "anthropic", "claude-x", params, "api.anthropic.com", 443)
    assert attrs == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-x",
        "server.address": "api.anthropic.com", "server.port": 443, "gen_ai.request.max_tokens": 100,
        "gen_ai.request.temperature": 0, "gen_ai.request.top_p": 0.9, "gen_ai.request.frequency_penalty": 0.1,
        "gen_ai.request.presence_penalty": -0.2, "gen_ai.request.seed": 7, "gen_ai.request.choice.count": 2,
        "gen_ai.request.stop_sequences": ("END",), "gen_ai.request.stream": True, "gen_ai.output.type": "json",
    }
    # Wrong types from a caller's body never become attributes (OTel would reject or mangle them).
    junk = {"max_tokens": "10", "temperature": True, "n": 1, "stop": [1, 2], "seed": None}
    assert sc.attempt_start_attributes("chat", "openai", "m", junk) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "m"}
    assert sc.attempt_start_attributes("chat", "openai", "m", {"max_completion_tokens": 5})[
        "gen_ai.request.max_tokens"] == 5


def test_telemetry_attempt_end_attributes() -> None:
    usage = Usage(input_tokens=120, output_tokens=40, cached_input_tokens=100, cache_write_tokens=0,
                  reasoning_tokens=30)
    attrs = sc.attempt_end_attributes("chatcmpl-1", "gpt-4o-2024", ["stop", "length"], usage, None,
                                      time_to_first_chunk_s=0.2, cost_usd=0.5)
    assert attrs == {
        "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 40,
        "gen_ai.usage.cache_read.input_tokens": 100, "gen_ai.usage.reasoning.output_tokens": 30,
        "gen_ai.response.id": "chatcmpl-1", "gen_ai.response.model": "gpt-4o-2024",
        "gen_ai.response.finish_reasons": ("stop", "length"), "gen_ai.response.time_to_first_chunk": 0.2,
        "gen_ai.usage.cost": 0.5,
    }
    assert sc.attempt_end_attributes(error_type="timeout") == {"error.type": "timeout"}
    assert sc.attempt_end_attributes(error_type="") == {"error.type": "_OTHER"}
    assert sc.cost_attributes(1_500_000_000) == {"gen_ai.usage.cost": 1.5}


def test_telemetry_guardrail_and_evaluation() -> None:
    attrs = sc.guardrail_attributes("pii", "input", "failed", "redact", 2, ["EMAIL_ADDRESS", "PHONE_NUMBER"])
    assert attrs == {"portcullis.guardrail.check": "pii", "portcullis.guardrail.stage": "input",
                     "portcullis.guardrail.verdict": "failed", "portcullis.guardrail.action": "redact",
                     "portcullis.guardrail.finding_count": 2,
                     "portcullis.guardrail.entity_types": ("EMAIL_ADDRESS", "PHONE_NUMBER")}
    name, event = sc.evaluation_event("pii", "failed", 1.0, "2 entities")
    assert name == "gen_ai.evaluation.result"
    assert event == {"gen_ai.evaluation.name": "pii", "gen_ai.evaluation.score.label": "failed",
                     "gen_ai.evaluation.score.value": 1.0, "gen_ai.evaluation.explanation": "2 entities"}


@pytest.mark.parametrize(("env", "setting", "expected"), [
    ({}, False, False), ({}, True, True),
    ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, False, True),
    ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"}, False, True),
    ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_AND_EVENT"}, False, True),
    ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"}, True, False),
    ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"}, True, False),
    ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY"}, True, False),
])
def test_telemetry_content_capture_switch(env: dict[str, str], setting: bool, expected: bool) -> None:
    assert content.content_capture_enabled(env, setting) is expected


def test_telemetry_content_attributes() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "What is in this image?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
    ]
    attrs = content.input_content_attributes(messages, scrub=lambda s: s.replace("cat", "[X]"))
    assert json.loads(attrs["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    chat = json.loads(attrs["gen_ai.input.messages"])
    assert [m["role"] for m in chat] == ["user", "assistant", "tool"]
    assert chat[0]["parts"][1] == {"type": "uri", "modality": "image", "uri": "[inline data]"}
    assert chat[1]["parts"] == [{"type": "tool_call", "id": "c1", "name": "look", "arguments": "{}"}]
    assert chat[2]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": "a [X]"}]
    out = content.output_content_attributes([{"message": {"role": "assistant", "content": "Hi"},
                                         "finish_reason": "stop"}])
    assert json.loads(out["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hi"}], "finish_reason": "stop"}]


def test_telemetry_semconv_imports_no_sdk() -> None:
    tree = ast.parse((TELEMETRY / "semconv.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.startswith("opentelemetry") for name in imported)


def test_telemetry_only_semconv_spells_gen_ai_names() -> None:
    offenders = []
    for path in TELEMETRY.glob("*.py"):
        if path.name == "semconv.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        for node in ast.walk(tree):
            if id(node) in docstrings:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "gen_ai." in node.value:
                offenders.append(f"{path.name}: {node.value!r}")
    assert offenders == []
