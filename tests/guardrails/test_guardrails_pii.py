"""PII corpus, message shapes, redaction operators and the never-log-the-secret rule, on real presidio."""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest

from guardrails.runner import GuardrailRunner
from schemas.guardrails import CheckContext, GuardrailChain, GuardrailCheckConfig

CTX = CheckContext(stage="input", model="gpt-4o")

# (text, expected entity types found). Phone regions US, GB, DE, FR (see conftest).
POSITIVES = [
    ("write to alice@example.com today", {"EMAIL_ADDRESS"}),
    ("reach bob.smith+tag@mail.example.co.uk", {"EMAIL_ADDRESS"}),
    ("phone (212) 555-0188 please", {"PHONE_NUMBER"}),
    ("phone +1 212-555-0188 please", {"PHONE_NUMBER"}),
    ("phone +44 20 7946 0958", {"PHONE_NUMBER"}),
    ("phone 020 7946 0958", {"PHONE_NUMBER"}),
    ("telefon +49 30 901820", {"PHONE_NUMBER"}),
    ("appelez le 01 42 68 53 00", {"PHONE_NUMBER"}),
    ("card 4111 1111 1111 1111 exp 12/29", {"CREDIT_CARD"}),
    ("card 5500-0000-0000-0004", {"CREDIT_CARD"}),
    ("pay to IBAN DE89 3704 0044 0532 0130 00", {"IBAN_CODE"}),
    ("iban GB82WEST12345698765432", {"IBAN_CODE"}),
    ("my ssn is 536-80-4398", {"US_SSN"}),
    ("reference 536-80-4398", {"US_SSN"}),  # without context: 0.5, still above the 0.4 threshold
    ("server at 192.168.10.20 is down", {"IP_ADDRESS"}),
    ("ipv6 2001:db8:85a3::8a2e:370:7334 route", {"IP_ADDRESS"}),
]
NEGATIVES = [
    "card 4111 1111 1111 1112 (bad Luhn)",
    "iban DE89 3704 0044 0532 0130 01 (bad checksum)",
    "order 12345 shipped on 2024-05-01",
    "the meeting is at 10:30 in room 4",
    "email me at alice at example dot com",
    "ssn 000-12-3456 is invalid",
    "the value is 3.14159 and the answer is 42",
]


def _run(runner: GuardrailRunner, params: dict, body: dict, action: str = "flag", stage: str = "input"):
    chain = runner.compile(
        GuardrailChain(checks=[GuardrailCheckConfig(id="pii", params=params, action=action)]), stage
    )
    ctx = CheckContext(stage=stage, model="gpt-4o")
    return asyncio.run(runner.run(stage, chain, body, ctx))


def _user(text: str) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_guardrails_pii_corpus_positive(runner: GuardrailRunner, text: str, expected: set[str]) -> None:
    outcome = _run(runner, {}, _user(text))
    found = {f.entity for f in outcome.results[0].findings}
    assert found == expected, text


@pytest.mark.parametrize("text", NEGATIVES)
def test_guardrails_pii_corpus_negative(runner: GuardrailRunner, text: str) -> None:
    outcome = _run(runner, {}, _user(text))
    assert outcome.results[0].verdict == "passed", (text, outcome.results[0].findings)


def test_guardrails_pii_custom_pattern_with_context(runner: GuardrailRunner) -> None:
    params = {
        "entities": [],
        "custom_patterns": [
            {"entity": "API_KEY", "pattern": r"\bsk-[A-Za-z0-9_-]{20,}\b", "score": 0.9, "context": ["key"]},
            {
                "entity": "EMPLOYEE_ID",
                "pattern": r"\bE\d{6}\b",
                "score": 0.3,
                "context": ["employee", "badge"],
            },
        ],
    }
    strong = _run(runner, params, _user("use sk-abcdefghijklmnopqrstuvwx1234 now"))
    assert [f.entity for f in strong.results[0].findings] == ["API_KEY"]
    weak = _run(runner, params, _user("id E123456 here"))
    assert weak.results[0].verdict == "passed"  # 0.3 < threshold without context
    boosted = _run(runner, params, _user("my employee badge is E123456"))
    assert [(f.entity, f.score) for f in boosted.results[0].findings] == [("EMPLOYEE_ID", 0.65)]


def test_guardrails_pii_allow_list_and_entity_selection(runner: GuardrailRunner) -> None:
    body = _user("mail support@ourco.com or alice@example.com, card 4111111111111111")
    outcome = _run(runner, {"entities": ["EMAIL_ADDRESS"], "allow_list": ["support@ourco.com"]}, body)
    assert [(f.entity, f.start) for f in outcome.results[0].findings] == [("EMAIL_ADDRESS", 26)]


def test_guardrails_pii_every_message_shape(runner: GuardrailRunner) -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "operator contact: ops@example.com"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hello"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    {"type": "text", "text": "my card 4111 1111 1111 1111"},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {
                            "name": "pay",
                            "arguments": json.dumps(
                                {"card": "4111111111111111", "note": "ok", "n": 5500000000000004}
                            ),
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "receipt sent to bob@example.org"},
        ],
    }
    outcome = _run(runner, {}, body, action="redact")
    paths = sorted({f.path for f in outcome.results[0].findings})
    assert paths == [
        "messages[0].content",
        "messages[1].content[2].text",
        "messages[2].tool_calls[0].function.arguments$.card",
        "messages[2].tool_calls[0].function.arguments$.n",
        "messages[3].content",
    ]
    red = outcome.body
    assert red is not None and body["messages"][0]["content"] == "operator contact: ops@example.com"  # copy
    assert red["messages"][0]["content"] == "operator contact: <EMAIL_ADDRESS>"
    assert red["messages"][1]["content"][2]["text"] == "my card <CREDIT_CARD>"
    assert red["messages"][1]["content"][1] == body["messages"][1]["content"][1]
    args = json.loads(red["messages"][2]["tool_calls"][0]["function"]["arguments"])  # still valid JSON
    assert args == {"card": "<CREDIT_CARD>", "note": "ok", "n": "<CREDIT_CARD>"}
    assert red["messages"][3]["content"] == "receipt sent to <EMAIL_ADDRESS>"


def test_guardrails_pii_output_stage(runner: GuardrailRunner) -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ssn 536-80-4398 ok"}}]}
    outcome = _run(runner, {}, body, action="deny", stage="output")
    assert outcome.denied and outcome.denied_by == ["pii"]
    assert outcome.results[0].findings[0].path == "choices[0].message.content"


def test_guardrails_pii_operators_mask_and_hash(runner: GuardrailRunner) -> None:
    body = _user("card 4111 1111 1111 1111 and alice@example.com")
    masked = _run(runner, {"operator": "mask", "mask_keep_last": 4}, body, action="redact").body
    assert masked["messages"][0]["content"] == "card ***************1111 and *************.com"
    first = _run(runner, {"operator": "hash"}, body, action="redact").body["messages"][0]["content"]
    second = _run(runner, {"operator": "hash"}, body, action="redact").body["messages"][0]["content"]
    assert first == second and "<CREDIT_CARD:" in first and "alice" not in first  # stable pseudonyms
    other = GuardrailRunner(pii_engine=runner.pii_engine, hash_secret=b"another-secret-0123456789")
    third = _run(other, {"operator": "hash"}, body, action="redact").body["messages"][0]["content"]
    assert third != first  # keyed by the server secret


def test_guardrails_pii_long_text_is_chunked(runner: GuardrailRunner) -> None:
    filler = "lorem ipsum dolor sit amet " * 400  # ~10.8k chars, email lands across a chunk boundary
    text = filler[:3990] + " carol@example.com " + filler + " dave@example.com"
    outcome = _run(runner, {"entities": ["EMAIL_ADDRESS"]}, _user(text))
    starts = [f.start for f in outcome.results[0].findings]
    assert starts == [text.index("carol@"), text.index("dave@")]  # found once each, no duplicates


def test_guardrails_findings_never_contain_secrets(runner: GuardrailRunner) -> None:
    secrets = ["alice@example.com", "4111 1111 1111 1111", "536-80-4398", "sk-abcdefghijklmnopqrstuvwx1234"]
    body = _user(f"mail {secrets[0]} card {secrets[1]} ssn {secrets[2]} key {secrets[3]}")
    checks = [
        GuardrailCheckConfig(
            id="pii",
            action="redact",
            params={"custom_patterns": [{"entity": "API_KEY", "pattern": r"sk-[a-z0-9]{20,}", "score": 0.9}]},
        ),
        GuardrailCheckConfig(id="regex", action="flag", params={"patterns": [r"\d{3}-\d{2}-\d{4}"]}),
        GuardrailCheckConfig(id="contains", action="flag", params={"words": ["alice"], "operator": "none"}),
    ]
    chain = runner.compile(GuardrailChain(checks=checks), "input")
    outcome = asyncio.run(runner.run("input", chain, body, CTX))
    assert all(r.verdict == "failed" for r in outcome.results)
    logged = msgspec.json.encode(outcome.results).decode() + json.dumps(outcome.portkey_hooks())
    for secret in [*secrets, "alice", "4111"]:
        assert secret not in logged
    assert not any(secret in json.dumps(outcome.body) for secret in secrets)
