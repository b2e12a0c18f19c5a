"""Chain semantics: actions, fail-open/closed on errors and timeouts, redaction order, hook_results."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import pytest

from guardrails.base import CheckFacts, CheckInput, Guardrail, GuardrailConfigError
from guardrails.registry import load_guardrails
from guardrails.runner import GuardrailRunner
from schemas.guardrails import CheckContext, GuardrailChain, GuardrailCheckConfig

CTX = CheckContext(stage="input", model="gpt-4o-mini", metadata={"team": "a"})


class NoParams(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """No parameters."""


def _boom(data: CheckInput) -> CheckFacts:
    raise RuntimeError("checker exploded")


async def _slow_async(data: CheckInput) -> CheckFacts:
    await asyncio.sleep(5)
    return CheckFacts(passed=True)


def _slow_sync(data: CheckInput) -> CheckFacts:
    time.sleep(0.3)
    return CheckFacts(passed=True)


TEST_GUARDRAILS = {
    "boom": Guardrail(id="boom", Params=NoParams, check=_boom),
    "slow": Guardrail(id="slow", Params=NoParams, check=_slow_async),
    "slow_thread": Guardrail(id="slow_thread", Params=NoParams, check=_slow_sync, offload_at_chars=0),
}


@pytest.fixture(scope="module")
def test_runner(pii_engine: Any) -> GuardrailRunner:
    return GuardrailRunner(
        pii_engine=pii_engine, hash_secret=b"s" * 32, guardrails={**load_guardrails(), **TEST_GUARDRAILS}
    )


def _body(text: str = "hello there, my mail is alice@example.com") -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


def _run(runner: GuardrailRunner, checks: list[GuardrailCheckConfig], body: dict | None = None):
    chain = runner.compile(GuardrailChain(checks=checks), "input")
    return asyncio.run(runner.run("input", chain, body or _body(), CTX))


def test_guardrails_registry_ids_equal_module_names() -> None:
    guardrails = load_guardrails()
    assert set(guardrails) == {
        "pii",
        "regex",
        "json_schema",
        "length",
        "contains",
        "model_allowlist",
        "required_metadata",
        "valid_urls",
    }
    for check_id, guardrail in guardrails.items():
        assert guardrail.id == check_id
        assert guardrail.check.__module__ == f"guardrails.{check_id}"
        assert guardrail.params_schema()  # JSON Schema from msgspec


@pytest.mark.parametrize(
    ("action", "denied", "redacted", "taken"),
    [("deny", True, False, "deny"), ("redact", False, True, "redact"), ("flag", False, False, "flag")],
)
def test_guardrails_actions(
    test_runner: GuardrailRunner, action: str, denied: bool, redacted: bool, taken: str
) -> None:
    outcome = _run(test_runner, [GuardrailCheckConfig(id="pii", action=action)])
    assert outcome.denied is denied and outcome.redacted is redacted
    assert outcome.results[0].verdict == "failed" and outcome.results[0].action_taken == taken
    assert outcome.denied_by == (["pii"] if denied else [])
    if redacted:
        assert outcome.body["messages"][0]["content"] == "hello there, my mail is <EMAIL_ADDRESS>"


@pytest.mark.parametrize(
    ("check_id", "on_error", "denied", "message"),
    [
        ("boom", "closed", True, "RuntimeError: checker exploded"),
        ("boom", "open", False, "RuntimeError: checker exploded"),
        ("slow", "closed", True, "timed out after 50 ms"),
        ("slow", "open", False, "timed out after 50 ms"),
        ("slow_thread", "closed", True, "timed out after 50 ms"),
    ],
)
def test_guardrails_fail_open_and_closed(
    test_runner: GuardrailRunner, check_id: str, on_error: str, denied: bool, message: str
) -> None:
    started = time.perf_counter()
    outcome = _run(
        test_runner,
        [
            GuardrailCheckConfig(id=check_id, on_error=on_error, timeout_ms=50),
            GuardrailCheckConfig(id="length", params={"max_words": 100}),
        ],
    )
    assert time.perf_counter() - started < 2
    result = outcome.results[0]
    assert result.verdict == "error" and result.error == message and result.fail_mode == on_error
    assert outcome.denied is denied
    assert result.action_taken == ("deny" if denied else "none")
    assert outcome.results[1].verdict == "passed"


def test_guardrails_default_fail_mode_per_check(test_runner: GuardrailRunner) -> None:
    chain = test_runner.compile(
        GuardrailChain(checks=[GuardrailCheckConfig(id="pii"), GuardrailCheckConfig(id="length")]), "input"
    )
    assert [c.on_error for c in chain.checks] == ["closed", "open"]


def test_guardrails_checks_run_concurrently(test_runner: GuardrailRunner) -> None:
    async def sleepy(data: CheckInput) -> CheckFacts:
        await asyncio.sleep(0.2)
        return CheckFacts(passed=True)

    runner = GuardrailRunner(
        hash_secret=b"", guardrails={"sleepy": Guardrail(id="sleepy", Params=NoParams, check=sleepy)}
    )
    started = time.perf_counter()
    outcome = _run(runner, [GuardrailCheckConfig(id="sleepy")] * 5)
    assert time.perf_counter() - started < 0.6 and len(outcome.results) == 5
    runner.close()


def test_guardrails_two_redactors_on_one_segment(test_runner: GuardrailRunner) -> None:
    body = _body("ticket ABC-1234 from alice@example.com, ssn 536-80-4398")
    checks = [
        GuardrailCheckConfig(
            id="regex",
            action="redact",
            params={"patterns": [r"ABC-\d+", r"\d{3}-\d{2}-\d{4}"], "replacement": "[ID]"},
        ),
        GuardrailCheckConfig(id="pii", action="redact"),
    ]
    outcome = _run(test_runner, checks, body)
    # Disjoint edits from both apply; the SSN both found is replaced once, by the first check in the chain.
    assert outcome.body["messages"][0]["content"] == "ticket [ID] from <EMAIL_ADDRESS>, ssn [ID]"
    reversed_outcome = _run(test_runner, list(reversed(checks)), body)
    assert reversed_outcome.body["messages"][0]["content"] == "ticket [ID] from <EMAIL_ADDRESS>, ssn <US_SSN>"


def test_guardrails_deny_wins_over_redact(test_runner: GuardrailRunner) -> None:
    outcome = _run(
        test_runner,
        [
            GuardrailCheckConfig(id="pii", action="redact"),
            GuardrailCheckConfig(
                id="contains", name="no-alice", params={"words": ["alice"], "operator": "none"}
            ),
        ],
    )
    assert outcome.denied and outcome.denied_by == ["no-alice"] and outcome.body is None


def test_guardrails_scope_last_message(test_runner: GuardrailRunner) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "alice@example.com"}, {"role": "user", "content": "clean"}],
    }
    checks = [GuardrailCheckConfig(id="pii", scope="last_message")]
    assert not _run(test_runner, checks, body).denied


def test_guardrails_context_checks(test_runner: GuardrailRunner) -> None:
    allow = GuardrailCheckConfig(id="model_allowlist", params={"models": ["gpt-4o*", "claude-*"]})
    assert not _run(test_runner, [allow]).denied
    only_claude = GuardrailCheckConfig(id="model_allowlist", params={"models": ["claude-*"]})
    assert _run(test_runner, [only_claude]).denied
    meta_all = GuardrailCheckConfig(id="required_metadata", params={"keys": ["team", "env"]})
    outcome = _run(test_runner, [meta_all])
    assert outcome.denied and outcome.results[0].findings[0].detail == "key 'env' missing"
    meta_any = GuardrailCheckConfig(
        id="required_metadata", params={"keys": ["team", "env"], "operator": "any"}
    )
    assert not _run(test_runner, [meta_any]).denied


def test_guardrails_length_and_contains(test_runner: GuardrailRunner) -> None:
    body = _body("One two three. Four five!")
    assert _run(test_runner, [GuardrailCheckConfig(id="length", params={"max_words": 4})], body).denied
    assert not _run(
        test_runner,
        [GuardrailCheckConfig(id="length", params={"max_sentences": 2, "min_chars": 5, "max_tokens": 7})],
        body,
    ).denied
    assert _run(test_runner, [GuardrailCheckConfig(id="length", params={"max_sentences": 1})], body).denied
    contains = {"words": ["FOUR", "six"], "operator": "any"}
    assert not _run(test_runner, [GuardrailCheckConfig(id="contains", params=contains)], body).denied
    strict = {**contains, "case_sensitive": True}
    assert _run(test_runner, [GuardrailCheckConfig(id="contains", params=strict)], body).denied
    whole = {"words": ["thre"], "whole_word": True}
    assert _run(test_runner, [GuardrailCheckConfig(id="contains", params=whole)], body).denied
    every = {"words": ["one", "five"], "operator": "all"}
    assert not _run(test_runner, [GuardrailCheckConfig(id="contains", params=every)], body).denied


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (GuardrailCheckConfig(id="nope"), "unknown check id 'nope'"),
        (GuardrailCheckConfig(id="json_schema", params={"schema": {}}), "does not run on the input stage"),
        (GuardrailCheckConfig(id="length", action="redact"), "action 'redact' is not supported by 'length'"),
        (
            GuardrailCheckConfig(id="regex", params={"patterns": ["a"], "bogus": 1}),
            "params: Object contains unknown",
        ),
        (GuardrailCheckConfig(id="pii", params={"entities": ["PERSON"]}), "needs the optional NER model"),
        (
            GuardrailCheckConfig(
                id="pii", params={"custom_patterns": [{"entity": "X", "pattern": "(a)\\1"}]}
            ),
            "custom_patterns[0].pattern",
        ),
        (GuardrailCheckConfig(id="length", params={"min_words": 5, "max_words": 2}), "min_words"),
    ],
)
def test_guardrails_config_errors_name_check_and_field(
    test_runner: GuardrailRunner, check: Any, message: str
) -> None:
    with pytest.raises(GuardrailConfigError, match="input guardrail check 0") as info:
        test_runner.compile(GuardrailChain(checks=[check]), "input")
    assert message in str(info.value)


def test_guardrails_hook_results_shape(test_runner: GuardrailRunner) -> None:
    from guardrails.outcome import hook_results

    outcome = _run(
        test_runner,
        [
            GuardrailCheckConfig(id="pii", action="redact", hook_id="h1"),
            GuardrailCheckConfig(id="length", action="flag", params={"max_words": 2}, hook_id="h2"),
        ],
    )
    hooks = hook_results(outcome, None)
    assert hooks["after_request_hooks"] == []
    h1, h2 = hooks["before_request_hooks"]
    assert (h1["id"], h1["verdict"], h1["transformed"], h1["deny"]) == ("h1", True, True, False)
    assert (h2["id"], h2["verdict"], h2["transformed"]) == ("h2", False, False)
    assert h2["checks"][0]["data"]["findings"][0]["detail"] == "words=6 > max 2"
    assert outcome.failed
